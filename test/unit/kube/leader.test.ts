import { KubeConfig, type V1MicroTime } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaderElector, leaseExpired, leaseRecord } from '../../../src/kube/leader.js';

describe('leaseExpired (judged by the local monotonic clock, like client-go)', () => {
  it('is false until the record has been unchanged for a whole lease duration as measured here', () => {
    expect(leaseExpired(1_000, 15, 16_000)).toBe(false);
    expect(leaseExpired(1_000, 15, 16_001)).toBe(true);
  });

  it('treats a Lease without a duration as free to take', () => {
    expect(leaseExpired(1_000, undefined, 1_000)).toBe(true);
    expect(leaseExpired(1_000, 0, 1_000)).toBe(true);
  });
});

describe('leaseRecord', () => {
  const spec = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2025-01-01T00:00:00.000000Z' as unknown as V1MicroTime, leaseTransitions: 1 };

  it('changes with every renewal or takeover, and only then', () => {
    expect(leaseRecord(spec)).toBe(leaseRecord({ ...spec }));
    expect(leaseRecord({ ...spec, renewTime: '2025-01-01T00:00:02.000000Z' as unknown as V1MicroTime })).not.toBe(leaseRecord(spec));
    expect(leaseRecord({ ...spec, holderIdentity: 'b' })).not.toBe(leaseRecord(spec));
  });
});

describe('LeaderElector options', () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const base = { namespace: 'ns', name: 'lease', identity: 'me', log: pino({ level: 'silent' }), onStartedLeading: () => undefined };

  it('accepts client-go-like orderings and defaults', () => {
    expect(() => new LeaderElector(kc, base)).not.toThrow();
    expect(() => new LeaderElector(kc, { ...base, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 })).not.toThrow();
  });

  it('refuses durations that would let two leaders overlap, and an empty identity', () => {
    expect(() => new LeaderElector(kc, { ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDurationMs/);
    expect(() => new LeaderElector(kc, { ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadlineMs/);
    expect(() => new LeaderElector(kc, { ...base, identity: '' })).toThrow(/identity/);
  });
});
