/** "Would this write change anything?" — the comparisons that keep a converged cluster write-free. */
import { isDeepStrictEqual } from 'node:util';

/** Compares two JSON values, ignoring key order and keys whose value is undefined. */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

const normalize = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Whether every entry of `wanted` is present in `actual` with the same value. */
export function containsEntries(actual: Record<string, string> | undefined, wanted: Record<string, string> | undefined): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => actual?.[k] === v);
}
