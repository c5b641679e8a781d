/**
 * String interning for informer caches (issue #13: memory at 10,000 customers). JSON.parse makes
 * a new string for every value, so 10,000 VersionPolicies hold 10,000 copies of each granted
 * tag and digest, 30,000 Licenses as many copies of each condition reason and version. An
 * interner swaps each string value for one shared copy, in place, as objects arrive.
 *
 * The table is bounded: once full it only looks up (never grows), and strings longer than
 * `maxLength` are left alone. Values that are unique by nature (uid, resourceVersion) are not
 * entered, so they cannot fill it.
 */

const UNIQUE_KEYS = new Set(['uid', 'resourceVersion', 'creationTimestamp']);

export interface InternerOptions {
  /** Most distinct strings kept (default 200,000: a few MB). */
  maxEntries?: number;
  /** Longest string interned (default 256). */
  maxLength?: number;
}

/** Returns a function that interns every string value of an object tree, in place, and returns it. */
export function createInterner(options: InternerOptions = {}): <T>(obj: T) => T {
  const maxEntries = options.maxEntries ?? 200_000;
  const maxLength = options.maxLength ?? 256;
  const table = new Map<string, string>();
  const intern = (value: string): string => {
    if (value.length > maxLength) return value;
    const shared = table.get(value);
    if (shared !== undefined) return shared;
    if (table.size < maxEntries) table.set(value, value);
    return value;
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (typeof item === 'string') node[i] = intern(item);
        else if (typeof item === 'object' && item !== null) walk(item);
      }
    } else if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const value = record[key];
        if (typeof value === 'string') {
          if (!UNIQUE_KEYS.has(key)) record[key] = intern(value);
        } else if (typeof value === 'object' && value !== null) walk(value);
      }
    }
  };
  return <T>(obj: T): T => {
    walk(obj);
    return obj;
  };
}
