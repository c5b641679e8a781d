import type { V1MicroTime } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isExpired } from '../../../src/kube/leader.js';
import { toMicroTime } from '../../../src/kube/microtime.js';

describe('isExpired', () => {
  const renewed = Date.parse('2025-01-01T00:00:00.000Z');

  it('is false until renewTime + leaseDurationSeconds has passed', () => {
    // What client-node hands over on reads: the server's string where the type says V1MicroTime.
    const renewTime = '2025-01-01T00:00:00.000000Z' as unknown as V1MicroTime;
    const spec = { renewTime, leaseDurationSeconds: 15 };
    expect(isExpired(spec, renewed + 15_000)).toBe(false);
    expect(isExpired(spec, renewed + 15_001)).toBe(true);
  });

  it('reads a renewTime a client-node model holds as V1MicroTime too', () => {
    expect(isExpired({ renewTime: toMicroTime(new Date(renewed)), leaseDurationSeconds: 15 }, renewed + 1_000)).toBe(false);
  });

  it('treats a Lease without renewTime or duration as free to take', () => {
    expect(isExpired(undefined, renewed)).toBe(true);
    expect(isExpired({ leaseDurationSeconds: 15 }, renewed)).toBe(true);
    expect(isExpired({ renewTime: toMicroTime(new Date(renewed)) }, renewed)).toBe(true);
  });
});
