/**
 * Monthly usage records for billing (metered licences), kept in the Ledger: per UTC month the
 * peak desired replicas, the peak number of namespaces holding a token, the distinct seat
 * holders, and replica-hours (desired pods integrated over time, from one sample to the next).
 * Pure: the reconciler samples, this folds the sample into the record.
 */
import type { LedgerMonth, LedgerSpec } from '../api/index.js';

/** One observation of live usage. */
export interface UsageSample {
  at: Date;
  replicas: number;
  namespaces: number;
  seatHolders: string[];
}

/** Most months kept (ten years); older ones fall off. */
export const MAX_MONTHS = 120;
/** Even when nothing changed, a sample this old is refreshed, so replica-hours stay current in the record. */
export const RESAMPLE_MS = 3_600_000;

export const utcMonth = (at: Date | number) => new Date(at).toISOString().slice(0, 7);

/** Start of the UTC month after the one holding `ms`. */
function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Replica-hours between two instants at a constant `replicas`, split by UTC month. */
export function replicaHoursByMonth(fromMs: number, toMs: number, replicas: number): Map<string, number> {
  const result = new Map<string, number>();
  if (replicas <= 0 || toMs <= fromMs) return result;
  for (let start = fromMs; start < toMs; ) {
    const end = Math.min(nextMonthStart(start), toMs);
    result.set(utcMonth(start), (result.get(utcMonth(start)) ?? 0) + (replicas * (end - start)) / 3_600_000);
    start = end;
  }
  return result;
}

/** The Ledger with `sample` folded in, or undefined when the record needs no write yet. */
export function recordUsageSample(spec: LedgerSpec, sample: UsageSample): LedgerSpec | undefined {
  const at = sample.at.getTime();
  const last = spec.lastSample;
  const lastAt = last ? Date.parse(last.at) : undefined;
  if (lastAt !== undefined && at < lastAt) return undefined; // a clock that went back: keep the record
  // Nothing used and nothing running before: no record to start (a Ledger may exist for its trial alone).
  if (!last && sample.replicas === 0 && sample.namespaces === 0 && sample.seatHolders.length === 0) return undefined;
  const months = new Map((spec.usage ?? []).map((m) => [m.month, { ...m, seatHolders: [...m.seatHolders] }]));
  const month = (key: string): LedgerMonth => {
    let m = months.get(key);
    if (!m) months.set(key, (m = { month: key, peakReplicas: 0, peakNamespaces: 0, seatHolders: [], replicaHours: 0 }));
    return m;
  };
  if (last && lastAt !== undefined) {
    for (const [key, hours] of replicaHoursByMonth(lastAt, at, last.replicas)) month(key).replicaHours = round(month(key).replicaHours + hours);
  }
  const current = month(utcMonth(at));
  const before = JSON.stringify(current);
  current.peakReplicas = Math.max(current.peakReplicas, sample.replicas);
  current.peakNamespaces = Math.max(current.peakNamespaces, sample.namespaces);
  current.seatHolders = [...new Set([...current.seatHolders, ...sample.seatHolders])].sort();
  const changed =
    !last ||
    last.replicas !== sample.replicas ||
    before !== JSON.stringify({ ...current, replicaHours: JSON.parse(before).replicaHours }) ||
    utcMonth(lastAt!) !== utcMonth(at) ||
    at - lastAt! >= RESAMPLE_MS;
  if (!changed) return undefined;
  const usage = [...months.values()].sort((a, b) => (a.month < b.month ? -1 : 1)).slice(-MAX_MONTHS);
  return { ...spec, usage, lastSample: { at: sample.at.toISOString().replace(/\.\d{3}Z$/, 'Z'), replicas: sample.replicas } };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
