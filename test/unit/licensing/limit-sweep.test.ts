import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planLimitSweep, type LimitedWorkload, type LimitSweepInput } from '../../../src/licensing/limit-sweep.js';
import { allowance, type EffectiveLimits } from '../../../src/licensing/limits.js';
import { HOUR, NOW } from '../fixtures.js';

const limits = (l: Partial<EffectiveLimits>): EffectiveLimits => ({ licenses: ['gold'], tokenMode: 'Team', overagePercent: 0, ...l });
const w = (namespace: string, name: string, createdMs: number, pods: number, stoppedPods?: number): LimitedWorkload => ({
  namespace,
  key: `Deployment/${name}`,
  createdMs,
  pods,
  ...(stoppedPods !== undefined ? { stoppedPods } : {}),
});
const plan = (l: Partial<EffectiveLimits>, workloads: LimitedWorkload[], over: Partial<LimitSweepInput> = {}) =>
  planLimitSweep({ limits: limits(l), workloads, beyondSince: undefined, graceMs: 0, now: NOW, ...over });
const heldKeys = (held: Map<string, Set<string>>) => [...held].flatMap(([ns, keys]) => [...keys].map((k) => `${ns}/${k}`)).sort();

describe('planLimitSweep', () => {
  it('holds nothing and records nothing while usage fits the allowance', () => {
    const p = plan({ maxReplicas: 4, overagePercent: 25 }, [w('a', 'one', 1, 3), w('b', 'two', 2, 2)]);
    expect(heldKeys(p.held)).toEqual([]);
    expect(p.beyondSince).toBeUndefined();
    expect(p.enforceAt).toBeUndefined();
  });

  it('a limit shrunk from 10 to 4 (+25 %): the newest workloads that do not fit go, the oldest keep their room', () => {
    const workloads = [w('a', 'old', 1, 3), w('b', 'middle', 2, 2), w('a', 'new', 3, 3)];
    const p = plan({ maxReplicas: 4, overagePercent: 25 }, workloads);
    expect(heldKeys(p.held)).toEqual(['a/Deployment/new']);
    expect(p.beyond.map((x) => x.key)).toEqual(['Deployment/new']);
    expect(p.beyondSince).toEqual(NOW);
  });

  it('waits out the grace period from when usage went beyond, and says when it ends', () => {
    const since = new Date(NOW.getTime() - 2 * HOUR);
    const workloads = [w('a', 'old', 1, 3), w('a', 'new', 2, 3)];
    const waiting = plan({ maxReplicas: 4 }, workloads, { beyondSince: since, graceMs: 24 * HOUR });
    expect(heldKeys(waiting.held)).toEqual([]);
    expect(waiting.beyondSince).toEqual(since);
    expect(waiting.enforceAt).toEqual(new Date(since.getTime() + 24 * HOUR));
    const over = plan({ maxReplicas: 4 }, workloads, { beyondSince: since, graceMs: 2 * HOUR });
    expect(heldKeys(over.held)).toEqual(['a/Deployment/new']);
    expect(over.enforceAt).toBeUndefined();
  });

  it('floating tokens: namespaces beyond the allowance go, newest namespace first; Mono keeps one workload per namespace', () => {
    const workloads = [w('a', 'a1', 1, 1), w('b', 'b1', 2, 1), w('a', 'a2', 3, 1), w('c', 'c1', 4, 1)];
    expect(heldKeys(plan({ concurrentNamespaces: 2 }, workloads).held)).toEqual(['c/Deployment/c1']);
    expect(heldKeys(plan({ concurrentNamespaces: 2, tokenMode: 'Mono' }, workloads).held)).toEqual(['a/Deployment/a2', 'c/Deployment/c1']);
  });

  it('a stopped workload stays stopped while it has no room, and is let go (restored) once it has', () => {
    const workloads = [w('a', 'old', 1, 3), w('a', 'stopped', 2, 0, 3)];
    const stillFull = plan({ maxReplicas: 4 }, workloads);
    expect(heldKeys(stillFull.held)).toEqual(['a/Deployment/stopped']);
    // Stopped workloads alone never start a grace period: nothing runs beyond the limit.
    expect(stillFull.beyondSince).toBeUndefined();
    expect(heldKeys(plan({ maxReplicas: 6 }, workloads).held)).toEqual([]);
  });

  it('never stops a running workload to make room for a stopped one, however old', () => {
    const p = plan({ maxReplicas: 3 }, [w('a', 'oldest-stopped', 0, 0, 3), w('a', 'running', 5, 3)]);
    expect(heldKeys(p.held)).toEqual(['a/Deployment/oldest-stopped']);
  });

  const workloadArb = fc.record({
    namespace: fc.constantFrom('a', 'b', 'c', 'd'),
    name: fc.stringMatching(/^[a-z]{1,4}$/),
    createdMs: fc.integer({ min: 0, max: 100 }),
    pods: fc.integer({ min: 0, max: 6 }),
    stopped: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  }).map((x) => w(x.namespace, x.name, x.createdMs, x.pods, x.pods === 0 ? x.stopped : undefined));
  const worldArb = fc.record({
    workloads: fc.uniqueArray(workloadArb, { selector: (x) => `${x.namespace}/${x.key}`, maxLength: 12 }),
    maxReplicas: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    concurrentNamespaces: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    mono: fc.boolean(),
    overagePercent: fc.constantFrom(0, 25, 50),
  });

  it('once enforced, what runs (restored included) fits every limit with its allowance', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const l = limits({
          ...(world.maxReplicas !== undefined ? { maxReplicas: world.maxReplicas } : {}),
          ...(world.concurrentNamespaces !== undefined ? { concurrentNamespaces: world.concurrentNamespaces } : {}),
          tokenMode: world.mono ? 'Mono' : 'Team',
          overagePercent: world.overagePercent,
        });
        const p = planLimitSweep({ limits: l, workloads: world.workloads, beyondSince: undefined, graceMs: 0, now: NOW });
        const held = new Set(heldKeys(p.held));
        const runs = world.workloads
          .filter((x) => !held.has(`${x.namespace}/${x.key}`))
          .map((x) => ({ ...x, pods: x.pods > 0 ? x.pods : x.stoppedPods ?? 0 }))
          .filter((x) => x.pods > 0);
        const replicas = runs.reduce((sum, x) => sum + x.pods, 0);
        const namespaces = new Set(runs.map((x) => x.namespace));
        if (l.maxReplicas !== undefined) expect(replicas).toBeLessThanOrEqual(allowance(l.maxReplicas, l.overagePercent));
        if (l.concurrentNamespaces !== undefined) {
          expect(namespaces.size).toBeLessThanOrEqual(allowance(l.concurrentNamespaces, l.overagePercent));
          if (world.mono) expect(runs.length).toBe(namespaces.size);
        }
        // Only workloads with something to run are ever held.
        for (const key of held) expect(world.workloads.some((x) => `${x.namespace}/${x.key}` === key && (x.pods > 0 || (x.stoppedPods ?? 0) > 0))).toBe(true);
      }),
    );
  });

  it('which running workloads go does not depend on the stopped ones, and the oldest running one that fits alone always stays', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const l = limits({ ...(world.maxReplicas !== undefined ? { maxReplicas: world.maxReplicas } : {}), overagePercent: world.overagePercent });
        const running = world.workloads.filter((x) => x.pods > 0);
        const all = planLimitSweep({ limits: l, workloads: world.workloads, beyondSince: undefined, graceMs: 0, now: NOW });
        const runningOnly = planLimitSweep({ limits: l, workloads: running, beyondSince: undefined, graceMs: 0, now: NOW });
        const heldRunning = (p: typeof all) => heldKeys(p.held).filter((k) => running.some((x) => `${x.namespace}/${x.key}` === k));
        expect(heldRunning(all)).toEqual(heldRunning(runningOnly));
        const oldest = [...running].sort((a, b) => a.createdMs - b.createdMs || a.namespace.localeCompare(b.namespace) || a.key.localeCompare(b.key))[0];
        if (oldest && (l.maxReplicas === undefined || oldest.pods <= allowance(l.maxReplicas, l.overagePercent))) {
          expect(heldKeys(all.held)).not.toContain(`${oldest.namespace}/${oldest.key}`);
        }
      }),
    );
  });

  it('before the grace period ends no running workload is held, and the recorded start is kept', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 1, max: 48 }), (world, hoursAgo) => {
        const since = new Date(NOW.getTime() - hoursAgo * HOUR);
        const l = limits({ ...(world.maxReplicas !== undefined ? { maxReplicas: world.maxReplicas } : {}) });
        const p = planLimitSweep({ limits: l, workloads: world.workloads, beyondSince: since, graceMs: 49 * HOUR, now: NOW });
        for (const key of heldKeys(p.held)) expect(world.workloads.find((x) => `${x.namespace}/${x.key}` === key)!.pods).toBe(0);
        if (p.beyond.length > 0) {
          expect(p.beyondSince).toEqual(since);
          expect(p.enforceAt).toEqual(new Date(since.getTime() + 49 * HOUR));
        } else expect(p.beyondSince).toBeUndefined();
      }),
    );
  });
});
