import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desiredPods, measureUsage, topLevel, type WorkloadObject } from '../../../src/licensing/usage.js';

const IMAGE = 'registry.acme.example/analytics/api';
const tmpl = (image = `${IMAGE}:1.0.0`) => ({ spec: { containers: [{ name: 'c', image }] } });
const w = (kind: string, name: string, namespace: string, spec: Record<string, unknown> = {}, extra: Partial<WorkloadObject> = {}): WorkloadObject => ({
  kind,
  metadata: { name, namespace, uid: `${namespace}-${name}`, ...(extra.metadata ?? {}) },
  spec: kind === 'Pod' ? tmpl().spec : kind === 'CronJob' ? { jobTemplate: { spec: { template: tmpl() } }, ...spec } : { template: tmpl(), ...spec },
  ...(extra.status ? { status: extra.status } : {}),
});

describe('desiredPods', () => {
  it('counts each kind as DESIGN.md says', () => {
    expect(desiredPods(w('Deployment', 'd', 'a', { replicas: 3 }), 4)).toBe(3);
    expect(desiredPods(w('Deployment', 'd', 'a'), 4)).toBe(1);
    expect(desiredPods(w('StatefulSet', 's', 'a', { replicas: 0 }), 4)).toBe(0);
    expect(desiredPods(w('ReplicationController', 'r', 'a', { replicas: 2 }), 4)).toBe(2);
    expect(desiredPods(w('Job', 'j', 'a', { parallelism: 5, completions: 2 }), 4)).toBe(2);
    expect(desiredPods(w('Job', 'j', 'a', { parallelism: 5, suspend: true }), 4)).toBe(0);
    expect(desiredPods(w('Job', 'j', 'a', {}, { status: { conditions: [{ type: 'Complete', status: 'True' }] } }), 4)).toBe(0);
    expect(desiredPods(w('CronJob', 'c', 'a'), 4)).toBe(1);
    expect(desiredPods(w('Pod', 'p', 'a'), 4)).toBe(1);
    expect(desiredPods(w('Pod', 'p', 'a', {}, { status: { phase: 'Succeeded' } }), 4)).toBe(0);
    expect(desiredPods(w('DaemonSet', 'ds', 'a'), 4)).toBe(4);
    expect(desiredPods(w('DaemonSet', 'ds', 'a', {}, { status: { desiredNumberScheduled: 2 } }), 4)).toBe(2);
    expect(desiredPods(w('PodTemplate', 't', 'a'), 4)).toBe(0);
  });
});

describe('measureUsage', () => {
  it('counts a Deployment once, not again through its ReplicaSet and Pods', () => {
    const deploy = w('Deployment', 'api', 'a', { replicas: 3 });
    const rs = w('ReplicaSet', 'api-1', 'a', { replicas: 3 }, { metadata: { ownerReferences: [{ kind: 'Deployment', uid: 'a-api', controller: true }] } });
    const pods = [0, 1, 2].map((i) => w('Pod', `api-1-${i}`, 'a', {}, { metadata: { ownerReferences: [{ kind: 'ReplicaSet', uid: 'a-api-1', controller: true }] } }));
    const usage = measureUsage([deploy, rs, ...pods], [IMAGE], 1);
    expect(usage.replicas).toBe(3);
    expect([...usage.running]).toEqual([['a', ['Deployment/api']]]);
  });

  it('counts a workload whose controller is not there (a forged owner reference hides nothing)', () => {
    const pod = w('Pod', 'sneaky', 'a', {}, { metadata: { ownerReferences: [{ kind: 'ReplicaSet', uid: 'nonexistent', controller: true }] } });
    expect(measureUsage([pod], [IMAGE], 1).replicas).toBe(1);
  });

  it('ignores other images and leaves out the workload under review', () => {
    const other = { ...w('Deployment', 'x', 'a', { replicas: 9 }), spec: { replicas: 9, template: tmpl('docker.io/library/nginx:1') } };
    const mine = w('Deployment', 'api', 'a', { replicas: 2 });
    expect(measureUsage([other, mine], [IMAGE], 1).replicas).toBe(2);
    expect(measureUsage([other, mine], [IMAGE], 1, { namespace: 'a', key: 'Deployment/api' }).replicas).toBe(0);
  });

  it('adds up top-level replicas whatever the mix (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3 })), { maxLength: 20 }), (items) => {
      const workloads = items.flatMap(([replicas, children], i) => [
        w('Deployment', `d${i}`, `ns${i % 3}`, { replicas }),
        ...Array.from({ length: children }, (_, j) => w('ReplicaSet', `d${i}-${j}`, `ns${i % 3}`, { replicas }, { metadata: { ownerReferences: [{ kind: 'Deployment', uid: `ns${i % 3}-d${i}`, controller: true }] } })),
      ]);
      const usage = measureUsage(workloads, [IMAGE], 1);
      expect(usage.replicas).toBe(items.reduce((sum, [r]) => sum + r, 0));
      expect(usage.running.size).toBe(new Set(items.map(([r], i) => (r > 0 ? `ns${i % 3}` : undefined)).filter(Boolean)).size);
    }));
  });

  it('judges an updated copy (informers replace objects, never change them) by its own images, not the remembered ones', () => {
    const mine = w('Deployment', 'api', 'a', { replicas: 2 });
    expect(measureUsage([mine], [IMAGE], 1).replicas).toBe(2);
    const retagged = { ...mine, spec: { replicas: 2, template: tmpl('docker.io/library/nginx:1') } };
    expect(measureUsage([retagged], [IMAGE], 1).replicas).toBe(0);
    expect(measureUsage([mine, retagged], [IMAGE], 1).replicas).toBe(2);
  });

  it('topLevel keeps workloads without a controller in the list', () => {
    expect(topLevel([w('Pod', 'p', 'a')]).length).toBe(1);
  });
});
