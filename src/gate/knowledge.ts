/**
 * What the gate has learned about upstream repositories: which digest each tag resolved to
 * (for a short while: tags move), and what each manifest references (for as long as memory
 * allows: a digest never changes its content). Both are bounded; the oldest entries go first.
 * Facts are about the upstream, never about a license: every decision re-checks the grant.
 */
import type { ManifestFacts, RepositoryKnowledge } from './authorize.js';

export interface KnowledgeOptions {
  clock: () => Date;
  /** How long a tag → digest resolution is trusted. Default 5 min: it only matters when a tag is re-pushed (a revoked or expired version leaves the grant at once, whatever this says), and a longer trust spares the upstream re-resolving every granted tag during long pulls. */
  tagTtlMs?: number;
  /** Most manifests remembered (with their references). Default 20,000. */
  maxManifests?: number;
  /** Most tag resolutions remembered. Default 50,000. */
  maxTags?: number;
}

interface ManifestEntry {
  children: string[];
  blobs: string[];
}

/** A Map used as an LRU: get() refreshes, set() evicts the oldest past `max`. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number, private readonly onEvict: (key: K, value: V) => void = () => {}) {}
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  has(key: K): boolean {
    return this.map.has(key);
  }
  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.onEvict(key, old);
    }
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const [oldestKey, oldestValue] = this.map.entries().next().value as [K, V];
      this.map.delete(oldestKey);
      this.onEvict(oldestKey, oldestValue);
    }
  }
  get size(): number {
    return this.map.size;
  }
}

/** Adds to / removes from a multimap of sets. */
function link(index: Map<string, Set<string>>, key: string, value: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(value);
}
function unlink(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

export class UpstreamKnowledge {
  private readonly clock: () => Date;
  private readonly tagTtlMs: number;
  private readonly tags: Lru<string, { digest: string; at: number }>;
  private readonly manifests: Lru<string, ManifestEntry>;
  /** `repo\0blob` → manifests referencing it. */
  private readonly blobRefs = new Map<string, Set<string>>();
  /** `repo\0child` → indexes listing it. */
  private readonly parents = new Map<string, Set<string>>();

  constructor(options: KnowledgeOptions) {
    this.clock = options.clock;
    this.tagTtlMs = options.tagTtlMs ?? 300_000;
    this.tags = new Lru(options.maxTags ?? 50_000);
    this.manifests = new Lru(options.maxManifests ?? 20_000, (key, entry) => {
      const [repo, digest] = key.split('\0') as [string, string];
      for (const blob of entry.blobs) unlink(this.blobRefs, `${repo}\0${blob}`, digest);
      for (const child of entry.children) unlink(this.parents, `${repo}\0${child}`, digest);
    });
  }

  /** Records that `tag` of upstream repository `repo` (host/path) resolved to `digest` now. */
  recordTag(repo: string, tag: string, digest: string): void {
    this.tags.set(`${repo}\0${tag}`, { digest, at: this.clock().getTime() });
  }

  /** Records what manifest `digest` of `repo` references. */
  recordManifest(repo: string, digest: string, facts: ManifestFacts): void {
    const key = `${repo}\0${digest}`;
    if (this.manifests.has(key)) {
      this.manifests.get(key);
      return;
    }
    const entry = { children: [...new Set(facts.children)], blobs: [...new Set(facts.blobs)] };
    this.manifests.set(key, entry);
    for (const blob of entry.blobs) link(this.blobRefs, `${repo}\0${blob}`, digest);
    for (const child of entry.children) link(this.parents, `${repo}\0${child}`, digest);
  }

  /** The tag's digest if resolved within the TTL. */
  freshTagDigest(repo: string, tag: string): string | undefined {
    const entry = this.tags.get(`${repo}\0${tag}`);
    if (!entry || this.clock().getTime() - entry.at >= this.tagTtlMs) return undefined;
    return entry.digest;
  }

  manifest(repo: string, digest: string): ManifestEntry | undefined {
    return this.manifests.get(`${repo}\0${digest}`);
  }

  /** The view the pure decisions read. */
  repository(repo: string): RepositoryKnowledge {
    return {
      tagDigest: (tag) => this.freshTagDigest(repo, tag),
      parentsOf: (digest) => [...(this.parents.get(`${repo}\0${digest}`) ?? [])],
      manifestsReferencing: (blob) => [...(this.blobRefs.get(`${repo}\0${blob}`) ?? [])],
    };
  }

  get sizes(): { tags: number; manifests: number } {
    return { tags: this.tags.size, manifests: this.manifests.size };
  }
}
