/** Folds each reconcile's live usage into the Ledger's monthly records (licensing/billing.ts decides when a write is due). */
import { ledgerName } from '../api/index.js';
import { recordUsageSample } from '../licensing/billing.js';
import type { MeasuredUsage } from '../render/usage.js';
import type { Caches } from './caches.js';
import type { LedgerField, LedgerWriter } from './ledger.js';

/** All that recordUsageSample reads and writes. */
const USAGE_FIELDS: readonly LedgerField[] = ['usage', 'lastSample'];

export async function recordMonthlyUsage(
  deps: { caches: Caches; ledgers: LedgerWriter; clock: () => Date },
  customer: string,
  usage: ReadonlyMap<string, MeasuredUsage>,
): Promise<void> {
  for (const [application, measured] of usage) {
    const cached = deps.caches.ledgers.get(ledgerName(customer, application));
    // No record to start for an application never used.
    if (!cached && measured.replicas === 0 && measured.seatHolders.length === 0) continue;
    const sample = { at: deps.clock(), replicas: measured.replicas, namespaces: measured.namespaces.length, seatHolders: measured.seatHolders };
    if (cached && !recordUsageSample(cached.spec, sample)) continue;
    await deps.ledgers.change(customer, application, (spec) => ({ spec: recordUsageSample(spec, sample), result: undefined }), { known: cached, fields: USAGE_FIELDS });
  }
}
