/**
 * Filling the gate's knowledge on demand, when a decision depends on what the upstream holds.
 */
import { createHash } from 'node:crypto';
import { manifestFacts } from './authorize.js';
import { expectOk, MANIFEST_TYPES, MAX_MANIFEST_BYTES, readBounded, target, timed, type GateDeps, type Reachable } from './exchange.js';
import { header } from './upstream.js';
import { GateView, type LicenseAccess } from './view.js';

/** Upstream requests one learning pass runs at once. */
const LEARN_CONCURRENCY = 8;

/**
 * Learns, for one license and repository, what its granted tags resolve to upstream and what
 * those manifests (and their index children, and the granted catalogue digests) reference.
 * Entries still fresh are skipped, so a repeated refusal costs the upstream nothing; passes
 * for the same license and repository share one run.
 */
export class Learner {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: GateDeps) {}

  learn(access: LicenseAccess, repository: string, signal: AbortSignal): Promise<void> {
    const key = `${access.grant.license}\0${repository}`;
    let run = this.running.get(key);
    if (!run) {
      run = this.run(access, repository).finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    // The caller may go away; the pass goes on for whoever asks next.
    return Promise.race([run, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true }))]);
  }

  private async run(access: LicenseAccess, repository: string): Promise<void> {
    const repo = access.grant.repositories.get(repository);
    if (!repo) return;
    const up = target(access);
    const repoKey = GateView.upstreamRepository(up.server, repository);
    const { knowledge } = this.deps;
    const jobs: (() => Promise<void>)[] = [];
    for (const [tag] of repo.tags) {
      const digest = knowledge.freshTagDigest(repoKey, tag);
      if (digest && knowledge.manifest(repoKey, digest)) {
        jobs.push(() => this.children(up, repository, repoKey, digest));
        continue;
      }
      jobs.push(async () => {
        const fetched = await this.fetchManifest(up, repository, repoKey, tag);
        if (fetched) {
          knowledge.recordTag(repoKey, tag, fetched);
          await this.children(up, repository, repoKey, fetched);
        }
      });
    }
    for (const digest of repo.digests) {
      jobs.push(async () => {
        if (!knowledge.manifest(repoKey, digest)) await this.fetchManifest(up, repository, repoKey, digest);
        await this.children(up, repository, repoKey, digest);
      });
    }
    await runLimited(jobs, LEARN_CONCURRENCY);
  }

  /** Reads the children of an index (one level: images; an index of indexes is learned as clients walk it). */
  private async children(up: Reachable, repository: string, repoKey: string, digest: string): Promise<void> {
    for (const child of this.deps.knowledge.manifest(repoKey, digest)?.children ?? []) {
      if (!this.deps.knowledge.manifest(repoKey, child)) await this.fetchManifest(up, repository, repoKey, child);
    }
  }

  /** GETs a manifest, records what it references, returns its digest (undefined when upstream lacks it). */
  private async fetchManifest(up: Reachable, repository: string, repoKey: string, ref: string): Promise<string | undefined> {
    const r = await timed(this.deps, 'learn', () =>
      this.deps.upstream.send(up.server, `/v2/${repository}/manifests/${ref}`, { method: 'GET', headers: { accept: MANIFEST_TYPES }, repository, credentials: up.credentials }),
    );
    if (r.status === 404) {
      await r.body.dump();
      return undefined;
    }
    await expectOk(r, this.deps);
    const body = await readBounded(r, MAX_MANIFEST_BYTES);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (ref.startsWith('sha256:') && digest !== ref) return undefined;
    this.deps.knowledge.recordManifest(repoKey, digest, manifestFacts(body.toString('utf8'), header(r.headers, 'content-type')));
    return digest;
  }
}

async function runLimited(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
