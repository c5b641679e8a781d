/**
 * metav1.MicroTime, the timestamp type of Lease `acquireTime`/`renewTime` and events.k8s.io
 * `eventTime`.
 *
 * The API server parses MicroTime with the layout `2006-01-02T15:04:05.000000Z07:00` and answers
 * 400 BadRequest to anything else: `Date.toISOString()`'s three fractional digits and a value
 * without a fraction are both refused (checked against kube-apiserver 1.33). client-node 1.4
 * sends a plain `Date` in a MicroTime field as `toISOString()` — refused — but its own
 * `V1MicroTime` subclass as six digits. On reads client-node does not revive MicroTime fields: the
 * value is the server's string even though the type says `V1MicroTime`.
 */
import { V1MicroTime } from '@kubernetes/client-node';

/** `2025-01-02T03:04:05.678000Z`: UTC, six fractional digits (a Date only carries milliseconds). */
export function formatMicroTime(date: Date): string {
  return `${date.toISOString().slice(0, -1)}000Z`;
}

/** A value for a MicroTime field of a client-node model that serializes with six fractional digits. */
export function toMicroTime(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}

/**
 * Reads a MicroTime (or Time) field as client-node hands it over: a string from the server, or a
 * Date the caller put there. Undefined when absent or unparsable, so callers treat it as unset.
 */
export function parseMicroTime(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
