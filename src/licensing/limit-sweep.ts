/**
 * When a limit shrinks below what runs (a vendor edits the License, a license of two ends),
 * which workloads the sweep stops, and when. Pure.
 *
 * The choices, written down (issue #9, build item 6):
 * - Nothing is stopped by surprise. Usage beyond the allowance (limit × (1 + overage), what
 *   admission would still admit) starts a grace period, recorded in the Ledger so that an
 *   operator restart does not restart it; the License says so in its LimitReached condition.
 *   The grace period is the License's `gracePeriod` (the longest among the licenses that set
 *   the limit), or {@link DEFAULT_LIMIT_GRACE_MS} when none sets one; `gracePeriod: 0s` acts at once.
 * - After it, the customer's onViolation applies to whole workloads, newest first: the oldest
 *   running workloads keep their room, and each newer one runs only while it fits. Fitting
 *   means under the allowance, not the bare limit: what the sweep stops the webhook would not
 *   have refused otherwise, so a tenant cannot immediately start it again.
 * - Room freed later (the limit raised again, another workload scaled down) goes to the
 *   stopped workloads, oldest first, with exactly the replicas they had; a running workload is
 *   never stopped to make room for a stopped one.
 * - Seats are not swept: a seat is checked when someone creates or changes a workload; taking
 *   an assignee away refuses their next change but stops nothing that runs.
 */
import { allowance, type EffectiveLimits } from './limits.js';

/** Used when no License of the limit sets a gracePeriod. */
export const DEFAULT_LIMIT_GRACE_MS = 24 * 3_600_000;

/** One top-level workload of the application in one of the customer's namespaces. */
export interface LimitedWorkload {
  namespace: string;
  /** "Kind/name". */
  key: string;
  /** creationTimestamp, ms since the epoch: what "newest" means. */
  createdMs: number;
  /** Desired pods now. */
  pods: number;
  /** For a workload enforcement has stopped: the pods it would run once restored (its record). */
  stoppedPods?: number;
}

export interface LimitSweepInput {
  limits: EffectiveLimits;
  workloads: readonly LimitedWorkload[];
  /** When usage went beyond the allowance, as the Ledger records it. */
  beyondSince: Date | undefined;
  graceMs: number;
  now: Date;
}

export interface LimitSweepPlan {
  /**
   * Workloads that must be stopped (or stay stopped), by namespace → keys: the running ones
   * beyond the allowance once the grace period is over, and the stopped ones with no room.
   */
  held: Map<string, Set<string>>;
  /** Running workloads beyond the allowance, newest first (stopped already, or when the grace period ends). */
  beyond: LimitedWorkload[];
  /** What the Ledger should record: when usage went beyond the allowance (undefined: it is not). */
  beyondSince: Date | undefined;
  /** When the grace period ends, while it runs (the reconcile looks again then). */
  enforceAt: Date | undefined;
}

const byAge = (a: LimitedWorkload, b: LimitedWorkload) =>
  a.createdMs - b.createdMs || a.namespace.localeCompare(b.namespace) || a.key.localeCompare(b.key);

/** Decides which workloads of one customer × application the sweep stops or keeps stopped. */
export function planLimitSweep(input: LimitSweepInput): LimitSweepPlan {
  const { limits } = input;
  const mostReplicas = limits.maxReplicas === undefined ? Infinity : allowance(limits.maxReplicas, limits.overagePercent);
  const mostNamespaces = limits.concurrentNamespaces === undefined ? Infinity : allowance(limits.concurrentNamespaces, limits.overagePercent);
  let replicas = 0;
  const runningIn = new Map<string, number>();
  const fits = (w: LimitedWorkload, pods: number) => {
    const here = runningIn.get(w.namespace) ?? 0;
    if (replicas + pods > mostReplicas) return false;
    if (here === 0 && runningIn.size + 1 > mostNamespaces) return false;
    return !(limits.concurrentNamespaces !== undefined && limits.tokenMode === 'Mono' && here > 0);
  };
  const keep = (w: LimitedWorkload, pods: number) => {
    replicas += pods;
    runningIn.set(w.namespace, (runningIn.get(w.namespace) ?? 0) + 1);
  };

  // Running workloads first, oldest first; then the stopped ones into the room left.
  const beyond: LimitedWorkload[] = [];
  for (const w of input.workloads.filter((x) => x.pods > 0).sort(byAge)) {
    if (fits(w, w.pods)) keep(w, w.pods);
    else beyond.push(w);
  }
  const stoppedWithoutRoom: LimitedWorkload[] = [];
  for (const w of input.workloads.filter((x) => x.pods === 0 && (x.stoppedPods ?? 0) > 0).sort(byAge)) {
    if (fits(w, w.stoppedPods!)) keep(w, w.stoppedPods!);
    else stoppedWithoutRoom.push(w);
  }

  const beyondSince = beyond.length === 0 ? undefined : input.beyondSince ?? input.now;
  const graceEnds = beyondSince && new Date(beyondSince.getTime() + input.graceMs);
  const enforcing = graceEnds !== undefined && input.now.getTime() >= graceEnds.getTime();
  const held = new Map<string, Set<string>>();
  for (const w of [...stoppedWithoutRoom, ...(enforcing ? beyond : [])]) {
    held.set(w.namespace, (held.get(w.namespace) ?? new Set()).add(w.key));
  }
  return { held, beyond: beyond.reverse(), beyondSince, enforceAt: enforcing ? undefined : graceEnds };
}
