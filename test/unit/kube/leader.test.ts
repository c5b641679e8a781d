import { KubeConfig, type V1MicroTime } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isExpired, LeaderElector } from '../../../src/kube/leader.js';
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
