/**
 * Limits that shrank below what runs: for each application with limits, which workloads the
 * sweep must stop or keep stopped (licensing/limit-sweep.ts decides), with the start of the
 * grace period kept in the Ledger so that a restart does not restart it.
 */
import { ledgerName, type License, type ViolationAction } from '../api/index.js';
import { stoppedPods } from '../enforcement/sweep.js';
import { parseDuration } from '../licensing/duration.js';
import { DEFAULT_LIMIT_GRACE_MS, planLimitSweep, type LimitedWorkload } from '../licensing/limit-sweep.js';
import { effectiveLimits } from '../licensing/limits.js';
import { desiredPods, runsApplication, topLevel, workloadKey, type WorkloadObject } from '../licensing/usage.js';
import type { Caches } from './caches.js';
import type { LedgerWriter } from './ledger.js';

/** An Event on a License about its limits. */
export interface LimitEvent {
  license: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface LimitHolds {
  /** Namespace → "Kind/name" → why it is beyond a limit: what the sweep stops or keeps stopped. */
  beyondLimits: Map<string, Map<string, string>>;
  /** When a grace period ends, if one runs. */
  next: Date | undefined;
  events: LimitEvent[];
}

const STOP_VERB: Record<ViolationAction, string> = {
  ScaleToZero: 'stopped (scaled to zero, restored when there is room)',
  Delete: 'deleted',
  None: 'reported',
};

/**
 * Plans the limit holds of one customer from its Active licenses and the workloads of its
 * namespaces, writing `beyondAllowanceSince` to a Ledger only when it starts or ends.
 */
export async function planLimitHolds(
  deps: { caches: Caches; ledgers: LedgerWriter; clock: () => Date },
  customer: string,
  namespaces: readonly string[],
  active: readonly License[],
  onViolation: ViolationAction,
  nodeCount: number,
): Promise<LimitHolds> {
  const { caches } = deps;
  const holds: LimitHolds = { beyondLimits: new Map(), next: undefined, events: [] };
  const workloads = topLevel(namespaces.flatMap((ns) => caches.workloads.flatMap((cache) => cache.inNamespace(ns))) as WorkloadObject[]);
  const applications = new Set([
    ...active.map((l) => l.spec.application),
    // A Ledger still counting from a limit that is gone now must be cleared.
    ...caches.ledgers.ofCustomer(customer).filter((l) => l.spec?.customer === customer && l.spec.beyondAllowanceSince).map((l) => l.spec.application),
  ]);
  for (const application of applications) {
    const licenses = active.filter((l) => l.spec.application === application);
    const limits = effectiveLimits(licenses);
    const app = caches.applications.get(application);
    const ledger = caches.ledgers.get(ledgerName(customer, application));
    const recorded = ledger?.spec.beyondAllowanceSince;
    const now = deps.clock();
    const plan = limits && app
      ? planLimitSweep({
          limits,
          workloads: workloads.filter((w) => runsApplication(w, app.spec.images)).map((w) => limitedWorkload(w, nodeCount)),
          beyondSince: recorded ? new Date(recorded) : undefined,
          graceMs: graceOf(licenses),
          now,
        })
      : undefined;
    const since = plan?.beyondSince && (recorded && Date.parse(recorded) === plan.beyondSince.getTime() ? recorded : plan.beyondSince.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if (since !== recorded) {
      await deps.ledgers.change(customer, application, (spec) => {
        const { beyondAllowanceSince: _dropped, ...rest } = spec;
        return { spec: since ? { ...rest, beyondAllowanceSince: since } : rest, result: undefined };
      }, { known: ledger, fields: ['beyondAllowanceSince'] });
      const names = (plan?.beyond ?? []).map((w) => `${w.namespace}/${w.key}`).join(', ');
      for (const license of licenses) {
        holds.events.push(since
          ? {
              license: license.metadata.name,
              type: 'Warning',
              reason: 'BeyondLimit',
              message: `workloads run beyond the limits of ${limits!.licenses.join(', ')}; unless usage drops, these (newest first) will be ${STOP_VERB[onViolation]} at ${plan!.enforceAt?.toISOString() ?? 'once'}: ${names}`,
            }
          : { license: license.metadata.name, type: 'Normal', reason: 'WithinLimits', message: 'usage is back within the limits (with their overage allowance)' });
      }
    }
    if (!plan) continue;
    if (plan.enforceAt && (!holds.next || plan.enforceAt < holds.next)) holds.next = plan.enforceAt;
    const why = `beyond the limits of ${limits!.licenses.length === 1 ? 'license' : 'licenses'} ${limits!.licenses.join(', ')}${
      limits!.maxReplicas !== undefined ? ` (maxReplicas ${limits!.maxReplicas})` : ''
    }${limits!.concurrentNamespaces !== undefined ? ` (concurrentNamespaces ${limits!.concurrentNamespaces}, ${limits!.tokenMode})` : ''}; newest workloads go first`;
    for (const [namespace, keys] of plan.held) {
      const here = holds.beyondLimits.get(namespace) ?? new Map<string, string>();
      for (const key of keys) here.set(key, why);
      holds.beyondLimits.set(namespace, here);
    }
  }
  return holds;
}

function limitedWorkload(w: WorkloadObject, nodeCount: number): LimitedWorkload {
  const created = w.metadata?.creationTimestamp;
  const stopped = stoppedPods(w as Parameters<typeof stoppedPods>[0], nodeCount);
  return {
    namespace: w.metadata?.namespace ?? '',
    key: workloadKey(w),
    createdMs: created ? new Date(created).getTime() : 0,
    pods: desiredPods(w, nodeCount),
    ...(stopped !== undefined ? { stoppedPods: stopped } : {}),
  };
}

/** The longest gracePeriod among the licenses (the most generous wins, like their limits), or the default. */
function graceOf(licenses: readonly License[]): number {
  const set = licenses.map((l) => (l.spec.gracePeriod ? parseDuration(l.spec.gracePeriod) : undefined)).filter((ms): ms is number => ms !== undefined);
  return set.length > 0 ? Math.max(...set) : DEFAULT_LIMIT_GRACE_MS;
}
