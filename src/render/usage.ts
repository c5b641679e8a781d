/**
 * A License's live usage against its limits: status.usage, the ApproachingLimit and
 * LimitReached conditions, and the banner line the status ConfigMap shows. Pure.
 */
import type { License, LicenseStatus } from '../api/index.js';
import type { DesiredCondition } from './conditions.js';

/** Usage of one application by one customer, as the shell measured it. */
export interface MeasuredUsage {
  replicas: number;
  /** Namespaces holding a token (recorded in the Ledger or running the application). */
  namespaces: string[];
  /** Users holding a seat taken by first use (from the Ledger). */
  seatHolders: string[];
}

export const LimitConditionReason = {
  WithinLimits: 'WithinLimits',
  ApproachingLimit: 'ApproachingLimit',
  LimitReached: 'LimitReached',
  OverLimit: 'OverLimit',
} as const;

/** Share of a limit at which ApproachingLimit turns True (and admission warns). */
export const APPROACHING = 0.8;

/** One limit with what is used of it. */
export interface LimitUse {
  limit: 'maxReplicas' | 'concurrentNamespaces' | 'seats';
  used: number;
  max: number;
}

/** Each limit the License sets, with its use. */
export function limitUses(license: License, usage: MeasuredUsage): LimitUse[] {
  const limits = license.spec.limits ?? {};
  const seatsUsed = (license.spec.assignees ?? []).length > 0 ? (license.spec.assignees ?? []).length : usage.seatHolders.length;
  const uses: LimitUse[] = [];
  if (limits.maxReplicas !== undefined) uses.push({ limit: 'maxReplicas', used: usage.replicas, max: limits.maxReplicas });
  if (limits.concurrentNamespaces !== undefined) uses.push({ limit: 'concurrentNamespaces', used: usage.namespaces.length, max: limits.concurrentNamespaces });
  if (limits.seats !== undefined) uses.push({ limit: 'seats', used: seatsUsed, max: limits.seats });
  return uses;
}

/** status.usage of the License. */
export function usageStatus(license: License, usage: MeasuredUsage): NonNullable<LicenseStatus['usage']> {
  const assigned = (license.spec.assignees ?? []).length;
  return {
    replicas: usage.replicas,
    namespaces: [...usage.namespaces].sort(),
    seats: assigned > 0 ? assigned : usage.seatHolders.length,
    ...(assigned === 0 && usage.seatHolders.length > 0 ? { seatHolders: [...usage.seatHolders].sort() } : {}),
  };
}

const describeUse = (u: LimitUse) => `${u.limit} ${u.used}/${u.max}`;

/** The two limit conditions; none for a License without limits. */
export function limitConditions(license: License, usage: MeasuredUsage): DesiredCondition[] {
  const uses = limitUses(license, usage);
  if (uses.length === 0) return [];
  const reached = uses.filter((u) => u.used >= u.max);
  const over = uses.filter((u) => u.used > u.max);
  const approaching = uses.filter((u) => u.used >= APPROACHING * u.max);
  const all = uses.map(describeUse).join(', ');
  return [
    {
      type: 'ApproachingLimit',
      status: approaching.length > 0 ? 'True' : 'False',
      reason: approaching.length > 0 ? LimitConditionReason.ApproachingLimit : LimitConditionReason.WithinLimits,
      message: approaching.length > 0 ? `at 80 % or more of ${approaching.map(describeUse).join(', ')}` : `within limits: ${all}`,
    },
    {
      type: 'LimitReached',
      status: reached.length > 0 ? 'True' : 'False',
      reason: over.length > 0 ? LimitConditionReason.OverLimit : reached.length > 0 ? LimitConditionReason.LimitReached : LimitConditionReason.WithinLimits,
      message: reached.length > 0
        ? `${over.length > 0 ? 'over' : 'at'} the limit: ${reached.map(describeUse).join(', ')}; new workloads beyond it are refused${license.spec.limits?.overagePercent ? ' past the overage allowance' : ''}`
        : `within limits: ${all}`,
    },
  ];
}
