/** Pretends it is two years later: `Date` and `Date.now()` in the test process run 730 days ahead. */
const SHIFT = 2 * 365 * 24 * 3600 * 1000;
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + SHIFT);
    else super(...(args as [string]));
  }
  static override now() { return RealDate.now() + SHIFT; }
}
globalThis.Date = ShiftedDate as DateConstructor;
