import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { VersionPolicySpec } from '../../../src/api/index.js';
import {
  NODE_SELECTOR_ANNOTATION,
  planSweep,
  REPLICAS_ANNOTATION,
  stoppedPods,
  STOPPED_NODE_LABEL,
  SUSPENDED_ANNOTATION,
  UNLICENSED_ANNOTATION,
  type Workload,
} from '../../../src/enforcement/sweep.js';

const REPO = 'registry.example.com/acme/api';
const granted: VersionPolicySpec = {
  customer: 'acme',
  admission: 'Deny',
  repositories: { [REPO]: { allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['lic'] } },
};

const podSpec = (tag: string) => ({ containers: [{ name: 'c', image: `${REPO}:${tag}` }] });
const meta = (name: string, annotations?: Record<string, string>, extra: object = {}) => ({ name, namespace: 'ns', annotations, ...extra });
const deployment = (tag: string, replicas: number, annotations?: Record<string, string>): Workload => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: meta('d', annotations),
  spec: { replicas, template: { spec: podSpec(tag) } },
});

describe('planSweep', () => {
  describe('workloads beyond a limit', () => {
    const beyond = new Map([['Deployment/d', 'beyond the limits of license lic (maxReplicas 4)']]);

    it('get onViolation though their images are licensed, with the limit as the reason', () => {
      const [action] = planSweep([deployment('1.0.0', 3)], granted, 'ScaleToZero', beyond);
      expect(action).toMatchObject({ type: 'ScaleToZero', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: '3' } }, spec: { replicas: 0 } } });
      expect(action!.message).toBe('scaled to 0 (from 3): beyond the limits of license lic (maxReplicas 4)');
      expect(planSweep([deployment('1.0.0', 3)], granted, 'None', beyond)[0]).toMatchObject({ type: 'Report' });
    });

    it('stay stopped while held, and are restored exactly once let go', () => {
      const stopped = deployment('1.0.0', 0, { [REPLICAS_ANNOTATION]: '3' });
      expect(planSweep([stopped], granted, 'ScaleToZero', beyond)).toEqual([]);
      expect(planSweep([stopped], granted, 'ScaleToZero')[0]).toMatchObject({ type: 'Restore', patch: { spec: { replicas: 3 } } });
    });
  });

  it('stoppedPods reads what a stopped workload would run again, and only from a record the operator writes', () => {
    expect(stoppedPods(deployment('1.0.0', 0, { [REPLICAS_ANNOTATION]: '3' }), 2)).toBe(3);
    expect(stoppedPods(deployment('1.0.0', 0, { [REPLICAS_ANNOTATION]: '3; rm -rf' }), 2)).toBeUndefined();
    // Running again (someone scaled it up): not stopped.
    expect(stoppedPods(deployment('1.0.0', 2, { [REPLICAS_ANNOTATION]: '3' }), 2)).toBeUndefined();
    expect(stoppedPods(deployment('1.0.0', 0), 2)).toBeUndefined();
    const job: Workload = { kind: 'Job', metadata: meta('j', { [SUSPENDED_ANNOTATION]: 'true' }), spec: { suspend: true, parallelism: 4, completions: 2, template: { spec: podSpec('1.0.0') } } };
    expect(stoppedPods(job, 2)).toBe(2);
    const daemonSet: Workload = { kind: 'DaemonSet', metadata: meta('ds', { [NODE_SELECTOR_ANNOTATION]: '{}' }), spec: { template: { spec: podSpec('1.0.0') } } };
    expect(stoppedPods(daemonSet, 5)).toBe(5);
  });

  it('leaves licensed workloads alone', () => {
    expect(planSweep([deployment('1.0.0', 3)], granted, 'ScaleToZero')).toEqual([]);
  });

  it('scales an unlicensed Deployment to zero, recording its replicas', () => {
    const [action] = planSweep([deployment('2.0.0', 3)], granted, 'ScaleToZero');
    expect(action).toMatchObject({
      type: 'ScaleToZero',
      image: `${REPO}:2.0.0`,
      patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: '3' } }, spec: { replicas: 0 } },
    });
    expect(action!.message).toContain('scaled to 0 (from 3)');
  });

  it('does nothing more to a workload already at zero, and keeps the first recorded count', () => {
    expect(planSweep([deployment('2.0.0', 0, { [REPLICAS_ANNOTATION]: '3' })], granted, 'ScaleToZero')).toEqual([]);
    // Someone scaled it up by 1 in between (say, the operator was down): the original count stays.
    const [action] = planSweep([deployment('2.0.0', 1, { [REPLICAS_ANNOTATION]: '3' })], granted, 'ScaleToZero');
    expect(action!.patch).toMatchObject({ metadata: { annotations: { [REPLICAS_ANNOTATION]: '3' } } });
  });

  it('restores the exact count once licensed again', () => {
    const [action] = planSweep([deployment('1.0.0', 0, { [REPLICAS_ANNOTATION]: '3' })], granted, 'ScaleToZero');
    expect(action).toMatchObject({ type: 'Restore', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: null } }, spec: { replicas: 3 } } });
  });

  it('suspends Jobs and CronJobs and resumes them', () => {
    const cron: Workload = { kind: 'CronJob', metadata: meta('c'), spec: { jobTemplate: { spec: { template: { spec: podSpec('2.0.0') } } } } };
    const [suspend] = planSweep([cron], granted, 'ScaleToZero');
    expect(suspend).toMatchObject({ type: 'Suspend', patch: { spec: { suspend: true } } });
    const resumed = { ...cron, metadata: meta('c', { [SUSPENDED_ANNOTATION]: 'true' }), spec: { suspend: true, jobTemplate: { spec: { template: { spec: podSpec('1.0.0') } } } } };
    expect(planSweep([resumed], granted, 'ScaleToZero')[0]).toMatchObject({ type: 'Restore', patch: { spec: { suspend: false } } });
  });

  it('stops a DaemonSet with a node selector no node matches, and restores its own selector', () => {
    const ds: Workload = { kind: 'DaemonSet', metadata: meta('ds'), spec: { template: { spec: { ...podSpec('2.0.0'), nodeSelector: { disk: 'ssd' } } } } };
    const [stop] = planSweep([ds], granted, 'ScaleToZero');
    expect(stop).toMatchObject({ type: 'StopDaemonSet', patch: { metadata: { annotations: { [NODE_SELECTOR_ANNOTATION]: '{"disk":"ssd"}' } }, spec: { template: { spec: { nodeSelector: { [STOPPED_NODE_LABEL]: 'true' } } } } } });
    const stopped: Workload = {
      kind: 'DaemonSet',
      metadata: meta('ds', { [NODE_SELECTOR_ANNOTATION]: '{"disk":"ssd"}' }),
      spec: { template: { spec: { ...podSpec('1.0.0'), nodeSelector: { [STOPPED_NODE_LABEL]: 'true' } } } },
    };
    expect(planSweep([stopped], granted, 'ScaleToZero')[0]).toMatchObject({
      type: 'Restore',
      patch: { spec: { template: { spec: { nodeSelector: { disk: 'ssd', [STOPPED_NODE_LABEL]: null } } } } },
    });
  });

  it('deletes bare Pods, and skips Pods and ReplicaSets that a controller manages', () => {
    const bare: Workload = { kind: 'Pod', metadata: meta('p'), spec: podSpec('2.0.0') };
    const owned: Workload = { kind: 'Pod', metadata: meta('q', undefined, { ownerReferences: [{ kind: 'ReplicaSet', controller: true }] }), spec: podSpec('2.0.0') };
    const rs: Workload = { kind: 'ReplicaSet', metadata: meta('rs', undefined, { ownerReferences: [{ kind: 'Deployment', controller: true }] }), spec: { replicas: 2, template: { spec: podSpec('2.0.0') } } };
    expect(planSweep([bare, owned, rs], granted, 'ScaleToZero').map((a) => [a.type, a.workload.name])).toEqual([['Delete', 'p']]);
  });

  it('deletes on Delete, reports on None, and never names a PVC', () => {
    expect(planSweep([deployment('2.0.0', 3)], granted, 'Delete')[0]).toMatchObject({ type: 'Delete', workload: { kind: 'Deployment' } });
    expect(planSweep([deployment('2.0.0', 3)], granted, 'None')[0]).toMatchObject({
      type: 'Report',
      patch: { metadata: { annotations: { [UNLICENSED_ANNOTATION]: `${REPO}:2.0.0` } } },
    });
    // Reported once: the annotation says so, across operator restarts too.
    expect(planSweep([deployment('2.0.0', 3, { [UNLICENSED_ANNOTATION]: `${REPO}:2.0.0` })], granted, 'None')).toEqual([]);
    expect(planSweep([deployment('1.0.0', 3, { [UNLICENSED_ANNOTATION]: `${REPO}:2.0.0` })], granted, 'None')[0]).toMatchObject({
      type: 'Restore',
      patch: { metadata: { annotations: { [UNLICENSED_ANNOTATION]: null } } },
    });
    const pvc: Workload = { kind: 'PersistentVolumeClaim', metadata: meta('data'), spec: {} };
    expect(planSweep([pvc], granted, 'Delete')).toEqual([]);
  });

  it('ignores workloads being deleted and images outside gated repositories', () => {
    const deleting = { ...deployment('2.0.0', 3), metadata: meta('d', undefined, { deletionTimestamp: '2026-01-01T00:00:00Z' }) };
    const other: Workload = { kind: 'Deployment', metadata: meta('o'), spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } } } };
    expect(planSweep([deleting, other], granted, 'ScaleToZero')).toEqual([]);
  });
});

describe('planSweep: records a tenant could have forged (defect 2)', () => {
  it.each(['garbage', '-1', '1e3', '3.5', '', ' 3', '99999999999', '0x10'])('never restores an unreadable replica count %j, drops it with a Warning', (value) => {
    const [action] = planSweep([deployment('1.0.0', 0, { [REPLICAS_ANNOTATION]: value })], granted, 'ScaleToZero');
    expect(action).toMatchObject({ type: 'DiscardRecord', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: null } } } });
    expect(action!.patch).not.toHaveProperty('spec');
    expect(action!.message).toContain('did not write');
  });

  it('does not "restore" a count onto a workload that is running (a forged record on a licensed Deployment)', () => {
    const [action] = planSweep([deployment('1.0.0', 2, { [REPLICAS_ANNOTATION]: '500' })], granted, 'ScaleToZero');
    expect(action).toMatchObject({ type: 'Restore', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: null } } } });
    expect(action!.patch).not.toHaveProperty('spec');
  });

  it('records the running count when the existing record is unreadable', () => {
    const [action] = planSweep([deployment('2.0.0', 4, { [REPLICAS_ANNOTATION]: 'lots' })], granted, 'ScaleToZero');
    expect(action!.patch).toMatchObject({ metadata: { annotations: { [REPLICAS_ANNOTATION]: '4' } }, spec: { replicas: 0 } });
  });

  it.each(['{not json', '[1,2]', '"x"', '{"a":1}', 'null'])('restarts a DaemonSet with an unreadable selector record %j without throwing', (value) => {
    const ds: Workload = { kind: 'DaemonSet', metadata: meta('ds', { [NODE_SELECTOR_ANNOTATION]: value }), spec: { template: { spec: { ...podSpec('1.0.0'), nodeSelector: { [STOPPED_NODE_LABEL]: 'true' } } } } };
    const [action] = planSweep([ds], granted, 'ScaleToZero');
    expect(action).toMatchObject({ type: 'DiscardRecord', patch: { spec: { template: { spec: { nodeSelector: { [STOPPED_NODE_LABEL]: null } } } } } });
  });

  it('never throws, whatever the workloads and annotations look like (property)', () => {
    const annotation = fc.oneof(fc.string(), fc.json(), fc.integer().map(String), fc.constant(''));
    const workload = fc.record(
      {
        kind: fc.constantFrom('Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'PodTemplate', 'Weird'),
        metadata: fc.record({
          name: fc.string({ minLength: 1, maxLength: 8 }),
          namespace: fc.constant('ns'),
          annotations: fc.dictionary(fc.constantFrom(REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION, NODE_SELECTOR_ANNOTATION, UNLICENSED_ANNOTATION, 'other'), annotation),
        }),
        spec: fc.anything(),
      },
      { requiredKeys: ['kind', 'metadata'] },
    );
    fc.assert(
      fc.property(fc.array(workload, { maxLength: 5 }), fc.constantFrom('ScaleToZero', 'Delete', 'None'), (workloads, onViolation) => {
        const actions = planSweep(workloads as Workload[], granted, onViolation as 'ScaleToZero');
        for (const a of actions) {
          // A restored count is always one the operator could have recorded.
          const replicas = (a.patch?.spec as { replicas?: unknown } | undefined)?.replicas;
          if (a.type === 'Restore' && replicas !== undefined) expect(Number.isInteger(replicas) && (replicas as number) >= 0).toBe(true);
        }
      }),
      { seed: 20261202, numRuns: 2000 },
    );
  });
});
