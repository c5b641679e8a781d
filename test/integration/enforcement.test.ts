/**
 * Enforcement through the real API server: the admission policy refuses unlicensed versions
 * (also with the operator stopped), and the sweep scales down what runs out of license and
 * restores it on renewal, never touching PVCs.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment, type V1StatefulSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type VersionPolicy } from '../../src/api/index.js';
import { REPLICAS_ANNOTATION } from '../../src/enforcement/sweep.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import type { Operator } from '../../src/operator.js';
import { deploymentWith, installAdmissionPolicy, serverVerdict, untilAdmission } from './admission-harness.js';
import { admissionSuite, testApplication } from './admission-suite.js';
import { kubeConfig, pollUntil, uniqueName } from './context.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const app = uniqueName('enf-app');
const repo = `registry.test.example/${app}/server`;
const image = (tag: string) => `${repo}:${tag}`;

async function scenario(customer: string, license: string, licenseSpec: Record<string, unknown>, customerSpec: Record<string, unknown> = {}) {
  await applyObjects(kc, [
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { namespaces: [customer], ...customerSpec } },
    { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, ...licenseSpec } },
  ], { fieldManager: 'test' });
}

async function patchLicense(name: string, spec: Record<string, unknown>) {
  await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name, body: { spec } }, mergePatch);
}

/** Waits until the namespace's policy grants exactly `tags`, then until admission agrees. */
async function grantsExactly(namespace: string, tags: string[]) {
  await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
    expect(all.find((p) => p.metadata.namespace === namespace)?.spec.repositories[repo]?.allowedTags).toEqual(tags);
  });
}

let operator: Operator | undefined;

beforeAll(async () => {
  await installAdmissionPolicy(kc);
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    testApplication(app).object,
  ], { fieldManager: 'test' });
  operator = await startOperator(kc);
});

afterAll(async () => {
  await operator?.stop();
});

admissionSuite({
  engine: 'policy',
  app: () => app,
  stopOperator: async () => {
    await operator?.stop();
    operator = undefined;
  },
  restartOperator: async () => {
    operator = await startOperator(kc);
  },
});

describe('expiry', () => {
  const customer = uniqueName('enf-exp');
  const license = uniqueName('enf-exp-lic');

  it('refuses new workloads from expiresAt on', async () => {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000);
    await scenario(customer, license, { versions: ['1.0.0'], expiresAt: rfc3339(expiresAt) });
    await grantsExactly(customer, ['1.0.0']);
    await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(customer, 'before', [image('1.0.0')]))).allowed);
    await untilAdmission(async () => !(await serverVerdict(kc, deploymentWith(customer, 'after', [image('1.0.0')]))).allowed, 10_000);
    const refusedAfterMs = Date.now() - expiresAt.getTime();
    console.log(`first refused create ${refusedAfterMs} ms after expiresAt`);
    expect(refusedAfterMs).toBeLessThan(3000);
    const verdict = await serverVerdict(kc, deploymentWith(customer, 'after', [image('1.0.0')]));
    expect(verdict.message).toContain(`no active license grants ${repo}`);
  });
});

describe('sweep', () => {
  const customer = uniqueName('enf-sweep');
  const license = uniqueName('enf-sweep-lic');

  async function deployments() {
    return (await apps.listNamespacedDeployment({ namespace: customer })).items;
  }

  it('scales running workloads to zero after the grace period, restores the exact counts on renewal, and leaves PVCs alone', async () => {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000);
    await scenario(customer, license, { versions: ['1.0.0'], expiresAt: rfc3339(expiresAt), gracePeriod: '2s' });
    await grantsExactly(customer, ['1.0.0']);
    await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(customer, 'probe', [image('1.0.0')]))).allowed);
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'api', [image('1.0.0')], 3) as V1Deployment });
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'worker', [image('1.0.0')], 2) as V1Deployment });
    const statefulSet: V1StatefulSet = {
      metadata: { name: 'db', namespace: customer },
      spec: {
        replicas: 2,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: image('1.0.0'), volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    };
    await apps.createNamespacedStatefulSet({ namespace: customer, body: statefulSet });
    // The StatefulSet controller makes the first claim; pods never run here (no kubelet), so one is all it makes.
    const pvcsBefore = await pollUntil(async () => {
      const items = (await core.listNamespacedPersistentVolumeClaim({ namespace: customer })).items;
      return items.length > 0 ? items.map((p) => p.metadata!.uid).sort() : undefined;
    });

    // Expired, in grace: new creates are refused, running workloads untouched.
    await untilAdmission(async () => !(await serverVerdict(kc, deploymentWith(customer, 'new', [image('1.0.0')]))).allowed, 10_000);
    expect((await deployments()).map((d) => d.spec?.replicas).sort()).toEqual([2, 3]);

    // After the grace period: scaled to zero, counts recorded.
    await pollUntil(async () => {
      const all = [...(await deployments()), ...(await apps.listNamespacedStatefulSet({ namespace: customer })).items];
      return all.every((w) => w.spec?.replicas === 0) ? true : undefined;
    });
    const recorded = Object.fromEntries(
      [...(await deployments()), ...(await apps.listNamespacedStatefulSet({ namespace: customer })).items].map((w) => [w.metadata!.name, w.metadata!.annotations?.[REPLICAS_ANNOTATION]]),
    );
    expect(recorded).toEqual({ api: '3', worker: '2', db: '2' });
    const events = await core.listNamespacedEvent({ namespace: customer });
    expect(events.items.filter((e) => e.reason === 'ScaledToZero').map((e) => e.involvedObject.name).sort()).toEqual(['api', 'db', 'worker']);

    // The ratchet: nobody but the operator scales an out-of-license workload back up.
    const scaleUp = await apps
      .patchNamespacedDeployment({ name: 'api', namespace: customer, body: { spec: { replicas: 3 } } }, mergePatch)
      .then(() => undefined, apiError);
    expect(scaleUp?.message).toContain('may not be scaled up');

    // Renewal restores the exact counts.
    await patchLicense(license, { expiresAt: rfc3339(new Date(Date.now() + 3_600_000)) });
    await pollUntil(async () => {
      const counts = Object.fromEntries(
        [...(await deployments()), ...(await apps.listNamespacedStatefulSet({ namespace: customer })).items].map((w) => [w.metadata!.name, w.spec?.replicas]),
      );
      return JSON.stringify(counts) === JSON.stringify({ api: 3, worker: 2, db: 2 }) ? true : undefined;
    });
    for (const w of [...(await deployments()), ...(await apps.listNamespacedStatefulSet({ namespace: customer })).items]) {
      expect(w.metadata?.annotations?.[REPLICAS_ANNOTATION]).toBeUndefined();
    }
    const pvcsAfter = (await core.listNamespacedPersistentVolumeClaim({ namespace: customer })).items.map((p) => p.metadata!.uid).sort();
    expect(pvcsAfter).toEqual(expect.arrayContaining(pvcsBefore));
  });
});

describe('sweep options', () => {
  async function unlicensedDeployment(customer: string, onViolation: string) {
    const license = uniqueName(`${customer}-lic`);
    await scenario(customer, license, { versions: ['1.0.0'] }, { enforcement: { onViolation } });
    await grantsExactly(customer, ['1.0.0']);
    await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(customer, 'probe', [image('1.0.0')]))).allowed);
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'api', [image('1.0.0')], 2) as V1Deployment });
    await patchLicense(license, { suspended: true });
  }

  it('onViolation None leaves the workload running and records an Event', async () => {
    const customer = uniqueName('enf-none');
    await unlicensedDeployment(customer, 'None');
    await pollUntil(async () => ((await core.listNamespacedEvent({ namespace: customer })).items.some((e) => e.reason === 'UnlicensedWorkload') ? true : undefined));
    expect((await apps.readNamespacedDeployment({ name: 'api', namespace: customer })).spec?.replicas).toBe(2);
  });

  it('onViolation Delete deletes the workload', async () => {
    const customer = uniqueName('enf-delete');
    await unlicensedDeployment(customer, 'Delete');
    await pollUntil(async () => ((await apps.listNamespacedDeployment({ namespace: customer })).items.length === 0 ? true : undefined));
    const events = await core.listNamespacedEvent({ namespace: customer });
    expect(events.items.map((e) => e.reason)).toContain('Deleted');
  });

  it('the dry-run switch only records what it would do', async () => {
    await operator?.stop();
    operator = await startOperator(kc, { LICENSEGATE_ENFORCEMENT_DRY_RUN: 'true' });
    try {
      const customer = uniqueName('enf-dry');
      await unlicensedDeployment(customer, 'ScaleToZero');
      await pollUntil(async () => ((await core.listNamespacedEvent({ namespace: customer })).items.some((e) => e.reason === 'DryRunScaledToZero') ? true : undefined));
      expect((await apps.readNamespacedDeployment({ name: 'api', namespace: customer })).spec?.replicas).toBe(2);
    } finally {
      await operator.stop();
      operator = await startOperator(kc);
    }
  });
});
