import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VersionPolicySpec } from '../../../src/api/index.js';
import { decideAdmission } from '../../../src/enforcement/decide.js';
import { NODE_SELECTOR_ANNOTATION, planSweep, REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION, UNLICENSED_ANNOTATION } from '../../../src/enforcement/sweep.js';
import { imagesOf, raisesWorkload, replicasOf, WORKLOAD_RESOURCES } from '../../../src/enforcement/workload.js';
import { projectWorkload } from '../../../src/enforcement/workload-projection.js';
import { LAST_APPLIED_ANNOTATION } from '../../../src/vocabulary/object-meta.js';

const REPO = 'registry.example.com/acme/api';
const policy: VersionPolicySpec = {
  customer: 'acme',
  admission: 'Deny',
  repositories: { [REPO]: { allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['lic'] } },
};

/** A container as the API server returns it: the image among much the operator never reads. */
const container = (name: string, image: string) => ({
  name,
  image,
  env: [{ name: 'A', value: 'x'.repeat(200) }],
  resources: { limits: { cpu: '1' }, requests: { memory: '64Mi' } },
  volumeMounts: [{ name: 'data', mountPath: '/data' }],
  imagePullPolicy: 'IfNotPresent',
});

const arbPodSpec = fc.record({
  images: fc.array(fc.constantFrom(`${REPO}:1.0.0`, `${REPO}:2.0.0`, 'nginx', `${REPO}@sha256:${'a'.repeat(64)}`), { minLength: 1, maxLength: 3 }),
  init: fc.option(fc.array(fc.constantFrom(`${REPO}:1.0.0`, `${REPO}:0.1.0`), { maxLength: 2 }), { nil: undefined }),
  nodeSelector: fc.option(fc.dictionary(fc.constantFrom('zone', 'disk'), fc.constantFrom('a', 'ssd')), { nil: undefined }),
});

function podSpec(s: { images: string[]; init: string[] | undefined; nodeSelector: Record<string, string> | undefined }) {
  return {
    containers: s.images.map((image, i) => container(`c${i}`, image)),
    ...(s.init && { initContainers: s.init.map((image, i) => container(`i${i}`, image)) }),
    ...(s.nodeSelector && { nodeSelector: s.nodeSelector }),
    restartPolicy: 'Always',
    volumes: [{ name: 'data', emptyDir: {} }],
    tolerations: [{ key: 'k', operator: 'Exists' }],
  };
}

const arbWorkload = fc
  .record({
    kind: fc.constantFrom(...WORKLOAD_RESOURCES.map((w) => w.kind)),
    spec: arbPodSpec,
    replicas: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    suspend: fc.option(fc.boolean(), { nil: undefined }),
    annotations: fc.subarray([REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION, UNLICENSED_ANNOTATION, NODE_SELECTOR_ANNOTATION, LAST_APPLIED_ANNOTATION]),
    controlled: fc.boolean(),
  })
  .map(({ kind, spec, replicas, suspend, annotations, controlled }) => {
    const template = { metadata: { labels: { app: 'x' }, annotations: { note: 'n' } }, spec: podSpec(spec) };
    const body =
      kind === 'Pod'
        ? { spec: template.spec, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'c0' }] } }
        : kind === 'PodTemplate'
          ? { template }
          : kind === 'CronJob'
            ? { spec: { schedule: '* * * * *', ...(suspend !== undefined && { suspend }), jobTemplate: { spec: { parallelism: 2, template } } } }
            : {
                spec: {
                  ...(replicas !== undefined && { replicas }),
                  ...(suspend !== undefined && kind === 'Job' && { suspend }),
                  selector: { matchLabels: { app: 'x' } },
                  template,
                  strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } },
                },
                status: { replicas: replicas ?? 1, readyReplicas: 1, desiredNumberScheduled: 3, conditions: [{ type: 'Available', status: 'True' }] },
              };
    const values: Record<string, string> = { [REPLICAS_ANNOTATION]: '3', [SUSPENDED_ANNOTATION]: 'true', [UNLICENSED_ANNOTATION]: `${REPO}:2.0.0`, [NODE_SELECTOR_ANNOTATION]: '{"zone":"a"}', [LAST_APPLIED_ANNOTATION]: '{"big":"' + 'y'.repeat(500) + '"}' };
    return {
      metadata: {
        name: 'w',
        namespace: 'ns',
        uid: 'u',
        resourceVersion: '7',
        generation: 2,
        labels: { app: 'x' },
        annotations: Object.fromEntries(annotations.map((a) => [a, values[a]!])),
        ...(controlled && { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'o', controller: true }] }),
        managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:x': {} } } }],
      },
      ...body,
      kind,
    } as Record<string, unknown>;
  });

const project = (w: Record<string, unknown>) => {
  const resource = WORKLOAD_RESOURCES.find((r) => r.kind === w.kind)!;
  const { kind: _kind, ...listed } = w; // list items carry no kind
  return projectWorkload(listed, resource.group === '' ? 'v1' : `${resource.group}/v1`, resource.kind);
};
type Any = Parameters<typeof imagesOf>[0];

describe('projectWorkload', () => {
  it('keeps every answer the sweep, the admission decision and the replica counts give', () => {
    fc.assert(
      fc.property(arbWorkload, arbWorkload, (w, old) => {
        const p = project(w) as Any & Record<string, unknown>;
        expect(imagesOf(p)).toEqual(imagesOf(w as Any));
        expect(replicasOf(p)).toEqual(replicasOf(w as Any));
        const q = project({ ...old, kind: w.kind }) as Any;
        expect(raisesWorkload(p, q)).toEqual(raisesWorkload(w as Any, { ...old, kind: w.kind } as Any));
        expect(decideAdmission({ operation: 'CREATE', object: p }, policy)).toEqual(decideAdmission({ operation: 'CREATE', object: w }, policy));
        for (const onViolation of ['ScaleToZero', 'Delete', 'None'] as const) {
          const withVersion = { ...w, apiVersion: (p as { apiVersion: string }).apiVersion };
          expect(planSweep([p], policy, onViolation)).toEqual(planSweep([withVersion], policy, onViolation));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('drops managedFields, last-applied-configuration and the lists nobody reads, keeping scalars of spec and status', () => {
    const [w] = fc.sample(arbWorkload.filter((x) => x.kind === 'Deployment'), { numRuns: 1, seed: 7 });
    w!.metadata = { ...(w!.metadata as object), annotations: { [LAST_APPLIED_ANNOTATION]: '{}', keep: 'me' } };
    const p = project(w!) as { kind: string; apiVersion: string; metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> };
    expect(p.kind).toBe('Deployment');
    expect(p.apiVersion).toBe('apps/v1');
    expect(p.metadata.managedFields).toBeUndefined();
    expect(p.metadata.annotations).toEqual({ keep: 'me' });
    expect(p.metadata.resourceVersion).toBe('7');
    expect(p.spec.strategy).toBeUndefined();
    expect(p.spec.selector).toEqual({ matchLabels: { app: 'x' } });
    expect(p.status).toEqual({ replicas: (w!.status as { replicas: number }).replicas, readyReplicas: 1, desiredNumberScheduled: 3 });
    const template = p.spec.template as { spec: { containers: unknown[]; volumes?: unknown; restartPolicy: string } };
    expect(template.spec.volumes).toBeUndefined();
    expect(template.spec.restartPolicy).toBe('Always');
    expect(template.spec.containers).toEqual((w!.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers.map((c) => ({ name: c.name, image: c.image })));
    expect(JSON.stringify(p).length).toBeLessThan(JSON.stringify(w).length / 2);
  });
});
