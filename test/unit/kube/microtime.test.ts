import { V1MicroTime } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { formatMicroTime, parseMicroTime, toMicroTime } from '../../../src/kube/microtime.js';

describe('MicroTime', () => {
  const date = new Date('2025-03-04T05:06:07.089Z');

  it('formats with six fractional digits, as the API server requires', () => {
    expect(formatMicroTime(date)).toBe('2025-03-04T05:06:07.089000Z');
  });

  it('makes a client-node value that serializes to the same six digits', () => {
    const micro = toMicroTime(date);
    expect(micro).toBeInstanceOf(V1MicroTime);
    expect(JSON.stringify({ t: micro })).toBe('{"t":"2025-03-04T05:06:07.089000Z"}');
  });

  it('parses the server string (microseconds truncated to milliseconds) and Dates alike', () => {
    expect(parseMicroTime('2025-03-04T05:06:07.089123Z')?.toISOString()).toBe('2025-03-04T05:06:07.089Z');
    expect(parseMicroTime(date)?.getTime()).toBe(date.getTime());
    expect(parseMicroTime(toMicroTime(date))?.getTime()).toBe(date.getTime());
  });

  it('treats absent or malformed values as unset', () => {
    for (const value of [undefined, null, '', 'yesterday', 42, new Date(Number.NaN)]) {
      expect(parseMicroTime(value)).toBeUndefined();
    }
  });
});
