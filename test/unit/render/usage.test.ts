import { describe, expect, it } from 'vitest';
import type { License, LicenseSpec } from '../../../src/api/index.js';
import { planCustomer } from '../../../src/render/plan.js';
import { LimitConditionReason, limitConditions, limitUses, usageStatus, type MeasuredUsage } from '../../../src/render/usage.js';
import { NOW, application, customer, license } from '../fixtures.js';

const limited = (spec: Partial<LicenseSpec>) => license('gold', spec);
const use = (replicas: number, namespaces: string[] = [], seatHolders: string[] = []): MeasuredUsage => ({ replicas, namespaces, seatHolders });
const cond = (l: License, u: MeasuredUsage, type: string) => limitConditions(l, u).find((c) => c.type === type);

describe('limit conditions', () => {
  const l = limited({ limits: { maxReplicas: 10, concurrentNamespaces: 2 } });
  it('are absent for a license without limits', () => {
    expect(limitConditions(license('plain'), use(100))).toEqual([]);
  });
  it('flip ApproachingLimit at 80 % and LimitReached at 100 %, naming the limit', () => {
    expect(cond(l, use(7), 'ApproachingLimit')).toMatchObject({ status: 'False', reason: LimitConditionReason.WithinLimits });
    expect(cond(l, use(8), 'ApproachingLimit')).toMatchObject({ status: 'True', message: expect.stringContaining('maxReplicas 8/10') });
    expect(cond(l, use(9), 'LimitReached')).toMatchObject({ status: 'False' });
    expect(cond(l, use(1, ['a', 'b']), 'LimitReached')).toMatchObject({ status: 'True', reason: LimitConditionReason.LimitReached, message: expect.stringContaining('concurrentNamespaces 2/2') });
    expect(cond(l, use(11), 'LimitReached')).toMatchObject({ status: 'True', reason: LimitConditionReason.OverLimit });
  });
  it('count assigned seats as held, else the first-use holders', () => {
    const assigned = limited({ limits: { seats: 3 }, assignees: [{ kind: 'User', name: 'a' }, { kind: 'Group', name: 'g' }] });
    expect(limitUses(assigned, use(0, [], ['x']))).toEqual([{ limit: 'seats', used: 2, max: 3 }]);
    expect(usageStatus(limited({ limits: { seats: 3 } }), use(2, ['b', 'a'], ['x']))).toEqual({ replicas: 2, namespaces: ['a', 'b'], seats: 1, seatHolders: ['x'] });
  });
});

describe('planCustomer with usage', () => {
  const world = (l: License, u: MeasuredUsage) => ({
    now: NOW,
    customerName: 'globex',
    customer: customer('globex'),
    applications: [application('analytics', { versions: [{ version: '1.0.0' }] })],
    licenses: [l],
    credentials: new Map(),
    namespaceOwners: new Map(),
    operatorNamespace: 'licensegate-system',
    usage: new Map([['analytics', u]]),
  });
  it('writes status.usage live and records an Event when a limit condition flips, once', () => {
    const l = limited({ limits: { maxReplicas: 5 } });
    const first = planCustomer(world(l, use(4)));
    expect(first.licenseStatuses.get('gold')?.usage).toEqual({ replicas: 4, namespaces: [], seats: 0 });
    expect(first.events.filter((e) => e.reason === 'ApproachingLimit')).toHaveLength(1);
    const seen = { ...l, status: first.licenseStatuses.get('gold')! };
    const again = planCustomer(world(seen, use(4)));
    expect(again.events.filter((e) => e.reason === 'ApproachingLimit')).toHaveLength(0);
    const full = planCustomer(world(seen, use(5)));
    expect(full.events.map((e) => e.reason)).toContain('LimitReached');
    const down = planCustomer(world({ ...l, status: full.licenseStatuses.get('gold')! }, use(1)));
    expect(down.events.map((e) => e.reason).sort()).toEqual(['ApproachingLimitCleared', 'LimitReachedCleared']);
  });
});
