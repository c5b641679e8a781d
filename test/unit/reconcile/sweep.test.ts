/** The sweep controller's bookkeeping and triggers (the API side is in test/integration/hardening.test.ts). */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { VersionPolicy } from '../../../src/api/index.js';
import type { Workload } from '../../../src/enforcement/sweep.js';
import type { KubeWriter } from '../../../src/kube/writer.js';
import type { WorkloadCache } from '../../../src/reconcile/caches.js';
import { SweepController, sweepRelevantChange } from '../../../src/reconcile/sweep.js';

const REPO = 'registry.example.com/acme/api';
const policy = (namespace: string): VersionPolicy => ({
  apiVersion: 'licensegate.dev/v1alpha1',
  kind: 'VersionPolicy',
  metadata: { name: 'licensegate', namespace },
  spec: { customer: 'acme', admission: 'Deny', repositories: { [REPO]: { allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['l'] } } },
});
const deployment = (name: string, namespace: string, generation = 1): Workload =>
  ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, generation }, spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: `${REPO}:2.0.0` }] } } } }) as Workload;

function controller(workloads: Workload[]) {
  const events: string[] = [];
  const writer = { event: async (s: { name: string }, _t: string, reason: string) => void events.push(`${s.name}:${reason}`) } as unknown as KubeWriter;
  const cache: WorkloadCache = { list: () => workloads, inNamespace: (ns) => workloads.filter((w) => w.metadata?.namespace === ns), get: () => undefined };
  const sweeps = new SweepController({ writer, log: pino({ level: 'silent' }), workloads: [cache], dryRun: true, clock: () => new Date(0) });
  return { sweeps, events };
}

describe('SweepController (dry run)', () => {
  it('reports each workload state once, and forgets workloads and namespaces that are gone (bounded memory)', async () => {
    const workloads = Array.from({ length: 50 }, (_, i) => deployment(`d${i}`, 'ns'));
    const { sweeps, events } = controller(workloads);
    expect(sweeps.setCustomerTargets('acme', [policy('ns')], 'ScaleToZero')).toEqual(['ns']);
    await sweeps.reconcile('ns');
    await sweeps.reconcile('ns');
    expect(events).toHaveLength(50);
    expect(sweeps.entries.reported).toBe(50);
    workloads.splice(10);
    await sweeps.reconcile('ns');
    expect(sweeps.entries.reported).toBe(10);
    expect(sweeps.setCustomerTargets('acme', [], 'ScaleToZero')).toEqual(['ns']);
    expect(sweeps.entries).toEqual({ targets: 0, reported: 0 });
  });

  it('asks for a sweep only when a target really changed', () => {
    const { sweeps } = controller([]);
    expect(sweeps.setCustomerTargets('acme', [policy('a'), policy('b')], 'ScaleToZero')).toEqual(['a', 'b']);
    expect(sweeps.setCustomerTargets('acme', [policy('a'), policy('b')], 'ScaleToZero')).toEqual([]);
    expect(sweeps.setCustomerTargets('acme', [policy('a')], 'Delete')).toEqual(['b', 'a']);
  });

  it('leaves a namespace that moved to another customer to that customer', () => {
    const { sweeps } = controller([]);
    expect(sweeps.setCustomerTargets('acme', [policy('a'), policy('b')], 'ScaleToZero')).toEqual(['a', 'b']);
    // globex takes b before acme's own reconcile has let it go.
    expect(sweeps.setCustomerTargets('globex', [policy('b')], 'Delete')).toEqual(['b']);
    expect(sweeps.setCustomerTargets('acme', [policy('a')], 'ScaleToZero')).toEqual([]);
    expect(sweeps.namespaces().sort()).toEqual(['a', 'b']);
    expect(sweeps.setCustomerTargets('globex', [], 'Delete')).toEqual(['b']);
    expect(sweeps.setCustomerTargets('acme', [], 'ScaleToZero')).toEqual(['a']);
    expect(sweeps.entries.targets).toBe(0);
  });
});

describe('sweepRelevantChange', () => {
  it('ignores status churn and reacts to spec, annotation and deletion changes', () => {
    const d = deployment('d', 'ns', 3);
    expect(sweepRelevantChange(d, { ...d, status: { readyReplicas: 1 } } as Workload)).toBe(false);
    expect(sweepRelevantChange(d, deployment('d', 'ns', 4))).toBe(true);
    expect(sweepRelevantChange(d, { ...d, metadata: { ...d.metadata, annotations: { 'licensegate.dev/replicas-before-enforcement': '1' } } })).toBe(true);
    expect(sweepRelevantChange(d, { ...d, metadata: { ...d.metadata, deletionTimestamp: 'now' } })).toBe(true);
    expect(sweepRelevantChange(undefined, d)).toBe(true);
  });
});
