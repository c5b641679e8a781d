import { describe, expect, it } from 'vitest';
import { DAY_MS, parseDuration } from '../../../src/licensing/duration.js';
import { DAY, HOUR, MINUTE, SECOND } from '../fixtures.js';

describe('parseDuration', () => {
  it.each([
    ['72h', 72 * HOUR],
    ['7d', 7 * DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1.5h', HOUR + 30 * MINUTE],
    ['0.5d', 12 * HOUR],
    ['90s', 90 * SECOND],
    ['1d12h', 36 * HOUR],
    ['2h45m30s', 2 * HOUR + 45 * MINUTE + 30 * SECOND],
    ['300ms', 300],
    ['1m', MINUTE], // "m" is minutes, not confused with "ms"
    ['1m1ms', MINUTE + 1],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
    ['0s', 0],
    ['30m30m', HOUR], // Go allows a unit twice; the parts add up
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each([
    [''],
    ['72'], // a number without a unit
    ['h'],
    ['72H'], // units are lower case
    ['1w'], // no weeks
    ['-1h'], // no negative durations
    ['+1h'],
    ['.5h'],
    ['1.h'],
    [' 72h'],
    ['72h '],
    ['1h 30m'],
    ['1h30'], // trailing number without unit
    ['P7D'], // ISO 8601 is not the API's form
    ['1,5h'],
  ])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('gives the same answer when called again (no state left behind in the regex)', () => {
    expect(parseDuration('1h30x')).toBeUndefined();
    expect(parseDuration('72h')).toBe(72 * HOUR);
    expect(parseDuration('72h')).toBe(72 * HOUR);
  });

  it('exports a day in milliseconds', () => {
    expect(DAY_MS).toBe(DAY);
  });
});
