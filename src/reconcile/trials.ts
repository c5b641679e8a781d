/** The trial record in the Ledger: read for planning, written at a trial's first activation. */
import { ledgerName, type Ledger, type LedgerSpec } from '../api/index.js';
import { rfc3339 } from '../render/conditions.js';
import type { TrialRecord } from '../render/plan.js';
import type { CustomerIndexedCache, ObjectCache } from './caches.js';
import type { LedgerWriter } from './ledger.js';

/** A customer's Ledgers by application, as the planner reads them. */
export function customerLedgers(ledgers: CustomerIndexedCache<Ledger>, customer: string): Map<string, LedgerSpec> {
  const byApplication = new Map<string, LedgerSpec>();
  for (const ledger of ledgers.ofCustomer(customer)) if (ledger.spec?.customer === customer) byApplication.set(ledger.spec.application, ledger.spec);
  return byApplication;
}

/** Writes each trial into its Ledger unless the Ledger already holds one (the first trial stays, ever). */
export async function recordTrials(writer: LedgerWriter, customer: string, trials: TrialRecord[], cache: ObjectCache<Ledger>): Promise<void> {
  for (const trial of trials) {
    await writer.change(customer, trial.application, (spec) => {
      if (spec.trial) return { result: undefined };
      return {
        spec: {
          ...spec,
          trial: { license: trial.license, ...(trial.licenseUid ? { licenseUid: trial.licenseUid } : {}), startedAt: rfc3339(trial.startedAt) },
        },
        result: undefined,
      };
    }, { known: cache.get(ledgerName(customer, trial.application)), fields: ['trial'] });
  }
}
