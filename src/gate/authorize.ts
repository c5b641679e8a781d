/**
 * The gate's decisions: may this license's holder have this manifest, this blob, these tags?
 * Pure: the grant (what the license allows now) and what is known of the upstream's
 * manifests come in; a verdict comes out. The shell fills in knowledge and asks again when a
 * verdict says the answer depends on something not yet known.
 *
 * Rules (DESIGN §2): a manifest by tag only for a granted tag; by digest only for a granted
 * catalogue digest, what a granted tag resolves to upstream, or a child of an index reachable
 * that way; a blob only when a manifest the license may pull references it.
 */
import type { Reference } from './path.js';
import { describeGrant, type RegistryGrant, type RepositoryGrant } from './grant.js';

/** Reasons the gate gives; tests and metrics use these constants. */
export const GateReason = {
  Allowed: 'Allowed',
  Unauthenticated: 'Unauthenticated',
  LicenseNotPulling: 'LicenseNotPulling',
  RepositoryNotGranted: 'RepositoryNotGranted',
  TagNotGranted: 'TagNotGranted',
  DigestNotGranted: 'DigestNotGranted',
  BlobNotReferenced: 'BlobNotReferenced',
  MalformedRequest: 'MalformedRequest',
  WriteRefused: 'WriteRefused',
  UpstreamNotFound: 'UpstreamNotFound',
  UpstreamUnavailable: 'UpstreamUnavailable',
} as const;
export type GateReason = (typeof GateReason)[keyof typeof GateReason];

/** How deep index → child chains are followed (an index of indexes is legal; deeper is not worth serving). */
export const MAX_INDEX_DEPTH = 3;

/** What the gate has learned of one upstream repository. */
export interface RepositoryKnowledge {
  /** The digest a tag resolves to upstream, if resolved recently. */
  tagDigest(tag: string): string | undefined;
  /** Indexes (by digest) known to list `digest` as a child manifest. */
  parentsOf(digest: string): readonly string[];
  /** Manifests (by digest) known to reference blob `digest` (config or layer). */
  manifestsReferencing(blob: string): readonly string[];
}

export type Verdict =
  | { allowed: true; reason: typeof GateReason.Allowed; how: string }
  | {
      allowed: false;
      reason: GateReason;
      status: number;
      code: 'DENIED' | 'NAME_UNKNOWN';
      message: string;
      /** True when learning more about the upstream (resolving granted tags, reading their manifests) could turn this into an allow. */
      mayLearn: boolean;
    };

const deny = (reason: GateReason, message: string, mayLearn = false): Verdict => ({ allowed: false, reason, status: 403, code: 'DENIED', message, mayLearn });

/** The license pulls, and the repository is one of its application's. */
function repositoryGrant(grant: RegistryGrant, repository: string): { ok: true; repo: RepositoryGrant } | { ok: false; verdict: Verdict } {
  if (!grant.pulling) return { ok: false, verdict: deny(GateReason.LicenseNotPulling, describeGrant(grant)) };
  const repo = grant.repositories.get(repository);
  if (!repo) return { ok: false, verdict: deny(GateReason.RepositoryNotGranted, `repository ${repository} is not part of this license: ${describeGrant(grant)}`) };
  return { ok: true, repo };
}

/** Why a manifest digest may be pulled, or undefined. Follows index parents up to MAX_INDEX_DEPTH. */
export function manifestDigestGrant(repo: RepositoryGrant, digest: string, known: RepositoryKnowledge, depth = 0): string | undefined {
  if (repo.digests.has(digest)) return 'granted catalogue digest';
  for (const [tag] of repo.tags) {
    if (known.tagDigest(tag) === digest) return `granted tag ${tag}`;
  }
  if (depth >= MAX_INDEX_DEPTH) return undefined;
  for (const parent of known.parentsOf(digest)) {
    const why = manifestDigestGrant(repo, parent, known, depth + 1);
    if (why) return `child of index ${parent} (${why})`;
  }
  return undefined;
}

export function authorizeManifest(grant: RegistryGrant, repository: string, reference: Reference, known: RepositoryKnowledge): Verdict {
  const r = repositoryGrant(grant, repository);
  if (!r.ok) return r.verdict;
  if (reference.tag !== undefined) {
    if (r.repo.tags.has(reference.tag)) return { allowed: true, reason: GateReason.Allowed, how: `granted tag ${reference.tag}` };
    return deny(GateReason.TagNotGranted, `tag ${reference.tag} of ${repository} is not granted: ${describeGrant(grant)}`);
  }
  const why = manifestDigestGrant(r.repo, reference.digest, known);
  if (why) return { allowed: true, reason: GateReason.Allowed, how: why };
  return deny(GateReason.DigestNotGranted, `manifest ${reference.digest} of ${repository} is not a granted version: ${describeGrant(grant)}`, true);
}

export function authorizeBlob(grant: RegistryGrant, repository: string, digest: string, known: RepositoryKnowledge): Verdict {
  const r = repositoryGrant(grant, repository);
  if (!r.ok) return r.verdict;
  for (const manifest of known.manifestsReferencing(digest)) {
    const why = manifestDigestGrant(r.repo, manifest, known);
    if (why) return { allowed: true, reason: GateReason.Allowed, how: `referenced by manifest ${manifest} (${why})` };
  }
  return deny(GateReason.BlobNotReferenced, `blob ${digest} of ${repository} belongs to no granted version: ${describeGrant(grant)}`, true);
}

/** May the holder list tags of `repository`? (The list itself is filtered by {@link filterTags}.) */
export function authorizeRepository(grant: RegistryGrant, repository: string): Verdict {
  const r = repositoryGrant(grant, repository);
  return r.ok ? { allowed: true, reason: GateReason.Allowed, how: 'repository of the license' } : r.verdict;
}

/** The upstream's tags that the license grants, sorted as distribution sorts them. */
export function filterTags(grant: RegistryGrant, repository: string, upstreamTags: readonly string[]): string[] {
  const repo = grant.repositories.get(repository);
  if (!grant.pulling || !repo) return [];
  return [...new Set(upstreamTags.filter((t) => repo.tags.has(t)))].sort();
}

/** The repositories of the license's application, when it pulls anything. */
export function catalog(grant: RegistryGrant): string[] {
  return grant.pulling ? [...grant.repositories.keys()].sort() : [];
}

/** One page of a sorted list: entries after `last`, at most `n`; `more` says whether a next page exists. */
export function paginate(items: readonly string[], n: number | undefined, last: string | undefined): { page: string[]; more: boolean } {
  const after = last === undefined ? [...items] : items.filter((i) => i > last);
  if (n === undefined) return { page: after, more: false };
  return { page: after.slice(0, n), more: after.length > n };
}

/** What a manifest body tells the gate: its children (an index) or its blobs (an image manifest). */
export interface ManifestFacts {
  mediaType: string | undefined;
  children: string[];
  blobs: string[];
}

/**
 * Reads the references out of a manifest body (OCI or Docker, image or index). Unknown or
 * malformed bodies yield no references: nothing becomes pullable through them.
 */
export function manifestFacts(body: string, contentType: string | undefined): ManifestFacts {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { mediaType: contentType, children: [], blobs: [] };
  }
  if (typeof json !== 'object' || json === null) return { mediaType: contentType, children: [], blobs: [] };
  const m = json as { mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown; blobs?: unknown; subject?: unknown };
  const digests = (list: unknown): string[] =>
    Array.isArray(list)
      ? list.map((d) => (typeof d === 'object' && d !== null ? (d as { digest?: unknown }).digest : undefined)).filter((d): d is string => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))
      : [];
  const mediaType = typeof m.mediaType === 'string' ? m.mediaType : contentType;
  const children = digests(m.manifests);
  const blobs = [...digests(m.config === undefined ? [] : [m.config]), ...digests(m.layers), ...digests(m.blobs)];
  return { mediaType, children, blobs };
}
