/** Status conditions whose lastTransitionTime moves only when their status flips. */
import type { Condition } from '../api/index.js';

/** A condition as decided, before timestamps and generations are filled in. */
export type DesiredCondition = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * Merges desired conditions into the current ones: a condition whose status is unchanged
 * keeps its lastTransitionTime; others get `now`. Conditions not desired are dropped.
 */
export function mergeConditions(
  current: Condition[] | undefined,
  desired: DesiredCondition[],
  now: Date,
  observedGeneration: number | undefined,
): Condition[] {
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  return desired.map((d) => {
    const previous = byType.get(d.type);
    const lastTransitionTime = previous && previous.status === d.status ? previous.lastTransitionTime : rfc3339(now);
    return { ...d, lastTransitionTime, ...(observedGeneration === undefined ? {} : { observedGeneration }) };
  });
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
