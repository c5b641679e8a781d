/**
 * examples/ describe licenses at a fixed moment (Globex's runs to 2027-12-31, Umbrella's to
 * 2027-06-30, Initech's expired in 2025). Tests that expect their grants run the operator on a
 * clock that starts at that moment and runs at real speed, so they pass on any date.
 */
export const EXAMPLES_AS_OF = new Date('2026-12-02T00:00:00Z');

/** A clock reading EXAMPLES_AS_OF now, ticking from there. */
export function examplesClock(): () => Date {
  const startedAt = Date.now();
  return () => new Date(EXAMPLES_AS_OF.getTime() + (Date.now() - startedAt));
}
