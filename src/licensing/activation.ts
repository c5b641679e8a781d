/**
 * Online activation, the vendor side (the ISPsystem flow): each License in the vendor's cluster
 * may have an activation key. A key activates one cluster; the vendor may regenerate a key (to
 * move the license to another cluster) at most once per 30 days; a Trial activates at most once
 * per cluster id and application, ever. Pure: records and the clock come in as arguments.
 */

export const ActivationReason = {
  /** No license has this activation key (or it was regenerated since). */
  UnknownActivationKey: 'UnknownActivationKey',
  /** The key already activated another cluster. */
  AlreadyActivated: 'AlreadyActivated',
  /** This cluster already had a trial of the application. */
  TrialAlreadyUsed: 'TrialAlreadyUsed',
  /** The key was regenerated less than 30 days ago. */
  RegeneratedRecently: 'RegeneratedRecently',
  /** The License the key belongs to no longer exists. */
  LicenseNotFound: 'LicenseNotFound',
  /** The request is not {key, clusterId}. */
  BadRequest: 'BadRequest',
} as const;
export type ActivationReason = (typeof ActivationReason)[keyof typeof ActivationReason];

export const REGENERATION_INTERVAL_DAYS = 30;
const DAY_MS = 86_400_000;

/** What the vendor keeps per License (in a Secret). */
export interface ActivationRecord {
  license: string;
  key: string;
  createdAt: string;
  /** kube-system UID of the cluster the key activated, once it did. */
  activatedCluster?: string;
  activatedAt?: string;
  /** The last time the key was regenerated. */
  regeneratedAt?: string;
}

export type Decision<T = object> = ({ ok: true } & T) | { ok: false; reason: ActivationReason; message: string };

/** May `clusterId` activate with this record's key? `bind` says whether the record must now record it. */
export function decideActivation(record: ActivationRecord, clusterId: string): Decision<{ bind: boolean }> {
  if (record.activatedCluster === undefined) return { ok: true, bind: true };
  if (record.activatedCluster === clusterId) return { ok: true, bind: false };
  return {
    ok: false,
    reason: ActivationReason.AlreadyActivated,
    message: `this activation key was already activated on another cluster (${record.activatedCluster}) at ${record.activatedAt ?? 'an earlier time'}; already activated: ask the vendor to regenerate the key to move the license`,
  };
}

/** May the key be regenerated at `now`? At most once per {@link REGENERATION_INTERVAL_DAYS} days. */
export function decideRegeneration(record: ActivationRecord, now: Date): Decision {
  if (record.regeneratedAt === undefined) return { ok: true };
  const next = Date.parse(record.regeneratedAt) + REGENERATION_INTERVAL_DAYS * DAY_MS;
  if (now.getTime() >= next) return { ok: true };
  return {
    ok: false,
    reason: ActivationReason.RegeneratedRecently,
    message: `the activation key of License ${record.license} was regenerated at ${record.regeneratedAt}; keys may be regenerated once per ${REGENERATION_INTERVAL_DAYS} days, next after ${new Date(next).toISOString()}`,
  };
}

/** The record after regeneration: a new key, no cluster bound. */
export function regenerated(record: ActivationRecord, key: string, now: Date): ActivationRecord {
  return { license: record.license, key, createdAt: record.createdAt, regeneratedAt: rfc3339(now) };
}

/** Whose trial a cluster already had, if any: `existing` is the license recorded for (application, cluster). */
export function decideTrial(existing: string | undefined, license: string, application: string, clusterId: string): Decision {
  if (existing === undefined || existing === license) return { ok: true };
  return {
    ok: false,
    reason: ActivationReason.TrialAlreadyUsed,
    message: `cluster ${clusterId} already had a trial of ${application} (License ${existing}); a cluster gets one trial per application`,
  };
}

export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
