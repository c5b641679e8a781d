/**
 * Frees floating tokens that no running workload backs any more: the last workload of the
 * application in the namespace was scaled to zero or deleted, or its create was refused by
 * another admission step after the limits webhook had claimed the token. The leader does it
 * on every reconcile of the customer (workload changes trigger one).
 */
import type { Ledger } from '../api/index.js';
import { nextTokenRelease, releaseTokens } from '../licensing/limits.js';
import { measureUsage, type WorkloadObject } from '../licensing/usage.js';
import type { Caches } from './caches.js';
import type { LedgerWriter } from './ledger.js';

/**
 * A claim younger than this is kept though no workload backs it yet: the webhook claims before
 * the API server stores the object, and the informers see it a moment later.
 */
export const TOKEN_MIN_AGE_MS = 5_000;

/** Releases the customer's unbacked tokens; returns when the next waiting one becomes releasable. */
export async function releaseUnbackedTokens(
  deps: { caches: Caches; ledgers: LedgerWriter; clock: () => Date },
  customer: string,
  namespaces: string[],
  nodeCount: number,
): Promise<Date | undefined> {
  const { caches } = deps;
  const workloads = namespaces.flatMap((ns) => caches.workloads.flatMap((cache) => cache.inNamespace(ns))) as WorkloadObject[];
  let next: Date | undefined;
  for (const ledger of caches.ledgers.ofCustomer(customer) as Ledger[]) {
    if (ledger.spec?.customer !== customer || (ledger.spec.tokens ?? []).length === 0) continue;
    const app = caches.applications.get(ledger.spec.application);
    const running = new Set(app ? measureUsage(workloads, app.spec.images, nodeCount).running.keys() : []);
    const now = deps.clock();
    if (releaseTokens(ledger.spec, running, now, TOKEN_MIN_AGE_MS)) {
      await deps.ledgers.change(customer, ledger.spec.application, (spec) => ({ spec: releaseTokens(spec, running, deps.clock(), TOKEN_MIN_AGE_MS), result: undefined }), { known: ledger, fields: ['tokens'] });
    }
    const waiting = nextTokenRelease(releaseTokens(ledger.spec, running, now, TOKEN_MIN_AGE_MS) ?? ledger.spec, running, TOKEN_MIN_AGE_MS);
    if (waiting && (!next || waiting < next)) next = waiting;
  }
  return next;
}
