import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerSpec, License, LicenseSpec } from '../../../src/api/index.js';
import { allowance, decideLimits, effectiveLimits, LimitReason, recordClaims, releaseTokens, type EffectiveLimits, type LimitInput } from '../../../src/licensing/limits.js';
import type { ApplicationUsage } from '../../../src/licensing/usage.js';
import { DAY, NOW, SECOND, after, before, iso, license } from '../fixtures.js';

const lic = (name: string, spec: Partial<LicenseSpec>, expires?: Date): License => {
  const l = license(name, spec);
  return expires ? { ...l, status: { effectiveExpiresAt: iso(expires) } } : l;
};
const noUsage = (): ApplicationUsage => ({ replicas: 0, running: new Map() });
const ledger = (extra: Partial<LedgerSpec> = {}): LedgerSpec => ({ customer: 'globex', application: 'analytics', ...extra });
const limits = (l: Partial<EffectiveLimits>): EffectiveLimits => ({ licenses: ['gold'], tokenMode: 'Team', overagePercent: 0, ...l });
const input = (l: Partial<EffectiveLimits>, over: Partial<LimitInput> = {}): LimitInput => ({
  limits: limits(l),
  namespace: 'ns-a',
  podsBefore: 0,
  podsAfter: 1,
  usage: noUsage(),
  ledger: ledger(),
  requester: { username: 'jane', groups: ['system:authenticated'] },
  now: NOW,
  ...over,
});

describe('effectiveLimits', () => {
  it('is undefined without licenses or without any limit', () => {
    expect(effectiveLimits([])).toBeUndefined();
    expect(effectiveLimits([lic('a', {})])).toBeUndefined();
  });
  it('binds a limit only when every license sets it, then the most generous wins', () => {
    expect(effectiveLimits([lic('a', { limits: { maxReplicas: 3 } }), lic('b', { limits: { maxReplicas: 5, seats: 2 } })])).toMatchObject({ maxReplicas: 5, licenses: ['a', 'b'] });
    expect(effectiveLimits([lic('a', { limits: { maxReplicas: 3 } }), lic('b', {})])).toBeUndefined();
  });
  it('keeps assignees, overage and the earliest-ending expiry rule', () => {
    const e = effectiveLimits([lic('a', { limits: { seats: 2, overagePercent: 25 }, assignees: [{ kind: 'User', name: 'jane' }] }, after(3 * DAY))]);
    expect(e).toMatchObject({ seats: 2, overagePercent: 25, assignees: [{ kind: 'User', name: 'jane' }], expiresAt: after(3 * DAY) });
  });
});

describe('allowance', () => {
  it('is exact for 25 % of 4 and never below the limit', () => {
    expect(allowance(4, 25)).toBe(5);
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1000 }), (limit, p) => {
      const a = allowance(limit, p);
      expect(a).toBeGreaterThanOrEqual(limit);
      expect(a).toBeLessThanOrEqual(limit * (1 + p / 100) + 1e-9);
    }));
  });
});

describe('decideLimits: maxReplicas', () => {
  it('admits up to the limit, refuses beyond, naming license, limit and count', () => {
    expect(decideLimits(input({ maxReplicas: 5 }, { podsAfter: 2, usage: { replicas: 3, running: new Map() } }))).toMatchObject({ allowed: true });
    const refused = decideLimits(input({ maxReplicas: 5 }, { podsAfter: 1, usage: { replicas: 5, running: new Map() } }));
    expect(refused).toMatchObject({ allowed: false, reason: LimitReason.MaxReplicasExceeded });
    if (!refused.allowed) expect(refused.message).toMatch(/gold.*at most 5.*5 are desired.*make 6/);
  });
  it('never refuses scaling down, even far over the limit', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 10_000 }), (after, drop, used) => {
      const v = decideLimits(input({ maxReplicas: 1, concurrentNamespaces: 1, seats: 0 }, { podsBefore: after + drop, podsAfter: after, usage: { replicas: used, running: new Map([['x', ['Deployment/y']]]) } }));
      expect(v.allowed).toBe(true);
    }));
  });
  it('admits within the overage with a warning and refuses past it (25 % of 4)', () => {
    const fifth = decideLimits(input({ maxReplicas: 4, overagePercent: 25 }, { usage: { replicas: 4, running: new Map() } }));
    expect(fifth).toMatchObject({ allowed: true, overLimit: true, warnings: [expect.stringContaining('overage')] });
    expect(decideLimits(input({ maxReplicas: 4, overagePercent: 25 }, { usage: { replicas: 5, running: new Map() } }))).toMatchObject({ allowed: false });
  });
  it('warns at 80 %', () => {
    expect(decideLimits(input({ maxReplicas: 5 }, { usage: { replicas: 3, running: new Map() } }))).toMatchObject({ allowed: true, warnings: [expect.stringContaining('4 of 5')] });
    expect(decideLimits(input({ maxReplicas: 10 }, { usage: { replicas: 3, running: new Map() } }))).toMatchObject({ allowed: true, warnings: [] });
  });
  it('never admits more than the allowance, whatever the request (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), (limit, p, used, before, after) => {
      const v = decideLimits(input({ maxReplicas: limit, overagePercent: p }, { podsBefore: before, podsAfter: after, usage: { replicas: used, running: new Map() } }));
      if (v.allowed && after > before) expect(used + after).toBeLessThanOrEqual(allowance(limit, p));
    }));
  });
});

describe('decideLimits: tokens', () => {
  const held = (...namespaces: string[]) => ledger({ tokens: namespaces.map((namespace) => ({ namespace, since: iso(before(DAY)) })) });
  it('claims a free token, reuses a held one (Team), refuses when all are held and names the holders', () => {
    expect(decideLimits(input({ concurrentNamespaces: 2 }, { ledger: held() }))).toMatchObject({ allowed: true, claims: { token: 'ns-a' } });
    expect(decideLimits(input({ concurrentNamespaces: 2 }, { ledger: held('ns-a', 'ns-b') }))).toMatchObject({ allowed: true, claims: {} });
    const refused = decideLimits(input({ concurrentNamespaces: 2 }, { namespace: 'ns-c', ledger: held('ns-a', 'ns-b') }));
    expect(refused).toMatchObject({ allowed: false, reason: LimitReason.TokensExhausted, message: expect.stringContaining('ns-a, ns-b') });
  });
  it('counts a namespace running the application without a recorded token as a holder', () => {
    const v = decideLimits(input({ concurrentNamespaces: 1 }, { namespace: 'ns-c', usage: { replicas: 1, running: new Map([['ns-old', ['Deployment/x']]]) } }));
    expect(v).toMatchObject({ allowed: false });
  });
  it('does not take a token for a stopped workload', () => {
    expect(decideLimits(input({ concurrentNamespaces: 1 }, { namespace: 'ns-c', podsAfter: 0, ledger: held('ns-a') }))).toMatchObject({ allowed: true, claims: {} });
  });
  it('Mono: refuses a second running workload in the namespace', () => {
    const usage = { replicas: 1, running: new Map([['ns-a', ['Deployment/first']]]) };
    expect(decideLimits(input({ concurrentNamespaces: 5, tokenMode: 'Mono' }, { usage, ledger: held('ns-a') }))).toMatchObject({ allowed: false, reason: LimitReason.MonoNamespaceTaken, message: expect.stringContaining('Deployment/first') });
    expect(decideLimits(input({ concurrentNamespaces: 5, tokenMode: 'Team' }, { usage, ledger: held('ns-a') }))).toMatchObject({ allowed: true });
  });
  it('releases only unbacked tokens older than the minimum age', () => {
    const spec = ledger({ tokens: [{ namespace: 'a', since: iso(before(DAY)) }, { namespace: 'b', since: iso(before(DAY)) }, { namespace: 'c', since: iso(before(2 * SECOND)) }] });
    expect(releaseTokens(spec, new Set(['a']), NOW, 5 * SECOND)?.tokens?.map((t) => t.namespace)).toEqual(['a', 'c']);
    expect(releaseTokens(spec, new Set(['a', 'b']), NOW, 1 * SECOND)?.tokens?.map((t) => t.namespace)).toEqual(['a', 'b']);
    expect(releaseTokens(spec, new Set(['a', 'b', 'c']), NOW, SECOND)).toBeUndefined();
  });
});

describe('decideLimits: seats', () => {
  const assigned = { seats: 2, assignees: [{ kind: 'User' as const, name: 'jane' }, { kind: 'Group' as const, name: 'acme:devs' }] };
  it('admits an assignee, and a member of an assigned group; refuses anyone else', () => {
    expect(decideLimits(input(assigned))).toMatchObject({ allowed: true, claims: {} });
    expect(decideLimits(input(assigned, { requester: { username: 'bob', groups: ['acme:devs'] } }))).toMatchObject({ allowed: true });
    expect(decideLimits(input(assigned, { requester: { username: 'mallory', groups: ['system:authenticated'] } }))).toMatchObject({ allowed: false, reason: LimitReason.NoSeat, message: expect.stringContaining('mallory') });
  });
  it('lets built-in controllers through without a seat', () => {
    expect(decideLimits(input(assigned, { requester: { username: 'system:serviceaccount:kube-system:deployment-controller', groups: [] } }))).toMatchObject({ allowed: true, claims: {} });
  });
  it('takes seats by first use until full, keeps them for their holders, counts ServiceAccounts as users', () => {
    const seats = (...names: string[]) => ledger({ seats: names.map((name) => ({ kind: 'User' as const, name, since: iso(before(DAY)) })) });
    expect(decideLimits(input({ seats: 2 }, { ledger: seats() }))).toMatchObject({ allowed: true, claims: { seat: 'jane' } });
    const sa = { username: 'system:serviceaccount:ns-a:ci', groups: [] };
    expect(decideLimits(input({ seats: 2 }, { ledger: seats('jane'), requester: sa }))).toMatchObject({ allowed: true, claims: { seat: sa.username } });
    expect(decideLimits(input({ seats: 2 }, { ledger: seats('jane', 'bob') }))).toMatchObject({ allowed: true, claims: {} });
    expect(decideLimits(input({ seats: 2 }, { ledger: seats('bob', 'ann') }))).toMatchObject({ allowed: false, reason: LimitReason.SeatsExhausted });
  });
});

describe('recordClaims', () => {
  it('adds a token and a seat once', () => {
    const spec = recordClaims(ledger(), { token: 'ns-a', seat: 'jane' }, NOW)!;
    expect(spec.tokens).toEqual([{ namespace: 'ns-a', since: iso(NOW) }]);
    expect(spec.seats).toEqual([{ kind: 'User', name: 'jane', since: iso(NOW) }]);
    expect(recordClaims(spec, { token: 'ns-a', seat: 'jane' }, NOW)).toBeUndefined();
  });
});
