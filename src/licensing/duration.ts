/** Durations as the License API spells them: Go's units plus "d" for days. */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)/gy;

/** Milliseconds in `text` ("72h", "7d", "1h30m"), or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = PART.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

export const DAY_MS = UNIT_MS.d!;
