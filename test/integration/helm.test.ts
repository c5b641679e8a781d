/**
 * The Helm chart, installed for real: `helm install` into the test cluster, examples/ applied,
 * the operator run out-of-cluster as the chart's ServiceAccount (a TokenRequest token; no
 * kubelet runs here, so the chart's Deployment never starts pods) with the chart's own
 * settings. The examples reconcile, an ungranted Deployment is refused, the sweep acts, and the
 * ServiceAccount is refused what its RBAC (and the confinement policy) must not allow. Then
 * `helm uninstall` leaves nothing of licensegate but the CRDs.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  loadAllYaml,
  setHeaderOptions,
  type KubernetesObject,
  type V1Deployment,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type License, type VersionPolicy } from '../../src/api/index.js';
import { REPLICAS_ANNOTATION } from '../../src/enforcement/sweep.js';
import { applyObjects } from '../../src/kube/apply.js';
import type { Operator } from '../../src/operator.js';
import { CUSTOMER_LABEL, OWNED_SELECTOR } from '../../src/vocabulary/labels.js';
import { helm } from '../helm-binary.js';
import { eventually, isNotFound, kubeConfig, uniqueName } from './context.js';
import { examplesClock } from './examples-clock.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const root = join(import.meta.dirname, '..', '..');
const admin = kubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const admission = admin.makeApiClient(AdmissionregistrationV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const objects = KubernetesObjectApi.makeApiClient(admin);

const release = 'licensegate';
const namespace = uniqueName('lg-helm');
const EXAMPLE_NAMESPACES = ['globex-prod', 'globex-staging', 'initech', 'umbrella'];
const API_IMAGE = 'registry.acme.example/analytics/api';
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;
const LICENSE_PATH = `/apis/${GROUP}/${VERSION}/licenses`;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Helm with its own config, cache and data directories, against the test cluster. */
const helmHome = mkdtempSync(join(tmpdir(), 'licensegate-helm-'));
const runHelm = (...args: string[]) =>
  helm([...args, '--kubeconfig', inject('kubeconfig')], {
    env: { HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') },
  });

/** examples/, with the operator namespace they assume (licensegate-system) replaced by the release's. */
function exampleObjects(): KubernetesObject[] {
  const dir = join(root, 'examples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => loadAllYaml(readFileSync(join(dir, f), 'utf8').replaceAll('licensegate-system', namespace)) as KubernetesObject[])
    .filter((o) => o && o.kind);
}

/** A kubeconfig that authenticates as a ServiceAccount, with a token from the TokenRequest API. */
async function serviceAccountKubeConfig(name: string, ns: string): Promise<KubeConfig> {
  const token = await core.createNamespacedServiceAccountToken({ name, namespace: ns, body: { spec: { expirationSeconds: 3600, audiences: [] } } });
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: token.status!.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return kc;
}

/** The operator's environment as the chart's Deployment sets it, with what a pod would get from the downward API. */
function chartEnvironment(): Record<string, string> {
  const manifest = loadAllYaml(runHelm('get', 'manifest', release, '--namespace', namespace)) as KubernetesObject[];
  const deployment = manifest.find((o) => o?.kind === 'Deployment') as V1Deployment;
  const env: Record<string, string> = {};
  for (const e of deployment.spec!.template.spec!.containers[0]!.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return { ...env, LICENSEGATE_NAMESPACE: namespace, LICENSEGATE_IDENTITY: 'helm-test-operator', LICENSEGATE_HTTP_PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' };
}

/** Resolves with the HTTP status of a request the API server refused; fails if it was allowed. */
async function refused(request: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request();
  } catch (error) {
    if (error instanceof ApiException) return { code: error.code, message: String(error.body) };
    throw error;
  }
  throw new Error('the request was allowed');
}

/** Cluster-scoped admission objects that other suites may have left (they install them too); restored afterwards. */
let preexisting: KubernetesObject[] = [];
async function snapshotAdmissionObjects(): Promise<KubernetesObject[]> {
  const found: KubernetesObject[] = [];
  const strip = (o: KubernetesObject, apiVersion: string, kind: string): KubernetesObject => {
    const { resourceVersion: _rv, uid: _uid, managedFields: _mf, creationTimestamp: _ct, generation: _g, ...metadata } = o.metadata!;
    return { ...o, apiVersion, kind, metadata, status: undefined } as KubernetesObject;
  };
  const api = 'admissionregistration.k8s.io/v1';
  for (const o of (await admission.listValidatingAdmissionPolicy()).items) if (o.metadata?.name?.startsWith('licensegate')) found.push(strip(o, api, 'ValidatingAdmissionPolicy'));
  for (const o of (await admission.listValidatingAdmissionPolicyBinding()).items) if (o.metadata?.name?.startsWith('licensegate')) found.push(strip(o, api, 'ValidatingAdmissionPolicyBinding'));
  for (const o of (await admission.listValidatingWebhookConfiguration()).items) if (o.metadata?.name === 'licensegate') found.push(strip(o, api, 'ValidatingWebhookConfiguration'));
  return found;
}

let operator: Operator | undefined;
let sa: KubeConfig;
let installed = false;

beforeAll(async () => {
  preexisting = await snapshotAdmissionObjects();
  // --take-ownership: other suites install the same cluster-wide policies without Helm.
  // No pod runs in this cluster (no kubelet), so nothing would answer behind the chart's webhook
  // Service, and the webhook (on by default) fails closed for customers with limits: install
  // without it here. The webhook is tested served by the operator in webhook.test.ts and limits.test.ts.
  runHelm('install', release, join(root, 'charts', 'licensegate'), '--namespace', namespace, '--create-namespace', '--take-ownership', '--set', 'webhook.enabled=false');
  installed = true;
  sa = await serviceAccountKubeConfig('licensegate', namespace);
  await applyObjects(admin, exampleObjects(), { fieldManager: 'test' });
  operator = await startOperator(sa, chartEnvironment(), examplesClock());
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  if (installed) runHelm('uninstall', release, '--namespace', namespace, '--wait');
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  // Put back what other suites had installed, as they left it.
  for (const o of preexisting) await objects.create(o).catch(() => undefined);
  rmSync(helmHome, { recursive: true, force: true });
}, 180_000);

describe('helm install, then examples/, with the operator running as the chart ServiceAccount', () => {
  it('install what the chart promises', async () => {
    const deployment = await apps.readNamespacedDeployment({ name: 'licensegate', namespace });
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('licensegate');
    await core.readNamespacedService({ name: 'licensegate-metrics', namespace });
    await admin.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: 'licensegate', namespace });
    expect((await rbac.readClusterRole({ name: 'licensegate' })).rules?.length).toBeGreaterThan(5);
    expect((await admission.readValidatingAdmissionPolicy({ name: 'licensegate-versions' })).spec?.matchConditions?.[0]?.expression).toContain(
      `system:serviceaccount:${namespace}:licensegate`,
    );
  });

  it('lead through the chart Lease', async () => {
    await eventually(async () => {
      expect(operator!.isLeader).toBe(true);
      const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'licensegate-leader', namespace });
      expect(lease.spec?.holderIdentity).toBe('helm-test-operator');
    });
  });

  it('reconcile the examples: statuses, VersionPolicies, pull Secrets', async () => {
    await watchUntilPasses<License>(admin, LICENSE_PATH, (all) => {
      const byName = Object.fromEntries(all.map((l) => [l.metadata.name, l.status]));
      expect(byName['globex-analytics']).toMatchObject({ phase: 'Active', grantedVersions: ['2.4.1', '2.6.0'] });
      expect(byName['initech-analytics']).toMatchObject({ phase: 'Expired' });
    }, 60_000);
    await watchUntilPasses<VersionPolicy>(admin, VP_PATH, (all) => {
      const byNs = Object.fromEntries(all.map((p) => [p.metadata.namespace!, p.spec]));
      for (const ns of ['globex-prod', 'globex-staging']) expect(byNs[ns]?.repositories[API_IMAGE]?.allowedTags).toEqual(['v2.4.1', 'v2.6.0']);
      expect(byNs.initech?.repositories[API_IMAGE]?.allowedTags).toEqual([]);
    }, 60_000);
    // The pull secret is made from the credentials Secret in the release namespace.
    const secret = await eventually(() => core.readNamespacedSecret({ name: 'licensegate-pull-acme-analytics', namespace: 'globex-prod' }), 30_000);
    const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { username: string }> };
    expect(config.auths['registry.acme.example']?.username).toBe('acme-puller');
  });

  it('refuse an ungranted Deployment and admit a granted one', async () => {
    const deployment = (name: string, tag: string): V1Deployment => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'globex-prod' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'api', image: `${API_IMAGE}:${tag}` }] } },
      },
    });
    // Until the operator has written the namespace's VersionPolicy, the refusal is "no params found".
    const refusal = await eventually(async () => {
      const r = await refused(() => apps.createNamespacedDeployment({ namespace: 'globex-prod', body: deployment('api-revoked', 'v2.5.0'), dryRun: 'All' }));
      if (!r.message.includes('is not licensed')) throw new Error(r.message);
      return r;
    }, 30_000);
    expect(refusal.message).toContain(`licensegate: image ${API_IMAGE}:v2.5.0 is not licensed for customer globex`);
    await apps.createNamespacedDeployment({ namespace: 'globex-prod', body: deployment('api-granted', 'v2.4.1'), dryRun: 'All' });
  });

  it('scale a running Deployment to zero when its version is no longer granted', async () => {
    const name = uniqueName('api');
    await applyObjects(admin, [{
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'globex-staging' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'api', image: `${API_IMAGE}:v2.6.0` }] } },
      },
    }], { fieldManager: 'test' });
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: 'globex-analytics', body: { spec: { revokedVersions: ['2.5.0', '2.6.0'] } } },
      mergePatch,
    );
    await eventually(async () => {
      const live = await apps.readNamespacedDeployment({ name, namespace: 'globex-staging' });
      expect(live.spec?.replicas).toBe(0);
      expect(live.metadata?.annotations?.[REPLICAS_ANNOTATION]).toBe('3');
    }, 30_000);
    await apps.deleteNamespacedDeployment({ name, namespace: 'globex-staging' });
  });
});

describe('the chart ServiceAccount is refused', () => {
  const as = <T>(api: new (...args: never[]) => T) => sa.makeApiClient(api as never) as T;

  it('reading outside its grants: ConfigMaps in kube-system, Leases elsewhere', async () => {
    expect((await refused(() => as(CoreV1Api).listNamespacedConfigMap({ namespace: 'kube-system' }))).code).toBe(403);
    expect((await refused(() => as(CoreV1Api).readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'kube-system' }))).code).toBe(403);
    expect((await refused(() => as(CoordinationV1Api).listNamespacedLease({ namespace: 'kube-system' }))).code).toBe(403);
    expect((await refused(() => as(CoordinationV1Api).readNamespacedLease({ name: 'licensegate-leader', namespace: 'default' }))).code).toBe(403);
  });

  it('changing RBAC, CRDs, namespaces and the admission policies that bind it', async () => {
    const dry = 'All';
    expect((await refused(() => as(RbacAuthorizationV1Api).createClusterRole({ body: { metadata: { name: uniqueName('escalate') }, rules: [] }, dryRun: dry }))).code).toBe(403);
    expect((await refused(() => as(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: { metadata: { name: uniqueName('escalate') }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'licensegate', namespace }] },
      dryRun: dry,
    }))).code).toBe(403);
    expect((await refused(() => as(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: `licenses.${GROUP}`, dryRun: dry }))).code).toBe(403);
    expect((await refused(() => as(CoreV1Api).deleteNamespace({ name: 'globex-prod', dryRun: dry }))).code).toBe(403);
    expect((await refused(() => as(AdmissionregistrationV1Api).deleteValidatingAdmissionPolicy({ name: 'licensegate-versions', dryRun: dry }))).code).toBe(403);
    expect((await refused(() => as(AdmissionregistrationV1Api).deleteValidatingAdmissionPolicyBinding({ name: 'licensegate-confine-operator', dryRun: dry }))).code).toBe(403);
    expect((await refused(() => as(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({ body: { metadata: { name: uniqueName('hook') } }, dryRun: dry }))).code).toBe(403);
  });

  it('writing License specs (the vendor grants licenses, the operator only reports on them)', async () => {
    const licenses = as(CustomObjectsApi);
    const patch = { group: GROUP, version: VERSION, plural: 'licenses', name: 'globex-gateway', body: { spec: { versions: ['*'] } }, dryRun: 'All' };
    expect((await refused(() => licenses.patchClusterCustomObject(patch, mergePatch))).code).toBe(403);
    const body = { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('self-granted') }, spec: { customer: 'globex', application: 'acme-analytics', versions: ['*'] } };
    expect((await refused(() => licenses.createClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', body, dryRun: 'All' }))).code).toBe(403);
  });

  it('writing Secrets it does not own, though RBAC cannot tell them apart (the confinement policy can)', async () => {
    const scratch = uniqueName('lg-helm-scratch');
    await core.createNamespace({ body: { metadata: { name: scratch } } });
    try {
      const theirs: V1Secret = { metadata: { name: 'database-password', namespace: scratch }, stringData: { password: 'hunter2' } };
      await core.createNamespacedSecret({ namespace: scratch, body: theirs });
      const secrets = as(CoreV1Api);
      const confined = 'licensegate: the operator may only write Secrets labelled app.kubernetes.io/managed-by=licensegate';
      // Eventually: the API server loads a new policy within a second or so.
      const created = await eventually(() => refused(() => secrets.createNamespacedSecret({ namespace: scratch, body: { ...theirs, metadata: { name: 'planted', namespace: scratch } }, dryRun: 'All' })), 15_000);
      expect(created.message).toContain(confined);
      expect((await refused(() => secrets.deleteNamespacedSecret({ name: 'database-password', namespace: scratch, dryRun: 'All' }))).message).toContain(confined);
      const overwrite = { metadata: { labels: { 'app.kubernetes.io/managed-by': 'licensegate' } }, stringData: { password: 'owned' } };
      expect((await refused(() => secrets.patchNamespacedSecret({ name: 'database-password', namespace: scratch, body: overwrite, dryRun: 'All' }, mergePatch))).message).toContain(confined);
      // What it owns, it may still write.
      await secrets.createNamespacedSecret({ namespace: scratch, body: { metadata: { name: 'owned', namespace: scratch, labels: { 'app.kubernetes.io/managed-by': 'licensegate' } } }, dryRun: 'All' });
    } finally {
      await core.deleteNamespace({ name: scratch });
    }
  });
});

describe('helm uninstall', () => {
  it('leaves nothing of licensegate but the CRDs (and the vendor resources in them)', async () => {
    // Customers go first, while the operator runs: it cleans their namespaces up (finalizer).
    const examples = exampleObjects().filter((o) => o.apiVersion === API_VERSION);
    for (const o of examples) await objects.delete(o).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    await eventually(async () => {
      for (const o of examples.filter((e) => e.kind === 'Customer')) {
        await expect(custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: o.metadata!.name! })).rejects.toMatchObject({ code: 404 });
      }
    }, 60_000);
    await operator!.stop();
    operator = undefined;
    // The Ledgers outlive Customers on purpose (one trial ever); the test's cluster admin clears
    // the examples' so that other files applying examples/ to this cluster start fresh.
    const customers = new Set(examples.filter((e) => e.kind === 'Customer').map((e) => e.metadata!.name!));
    const ledgers = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers' })) as { items: { metadata: { name: string }; spec: { customer: string } }[] };
    for (const l of ledgers.items.filter((l) => customers.has(l.spec.customer))) {
      await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: l.metadata.name });
    }

    runHelm('uninstall', release, '--namespace', namespace, '--wait');
    installed = false;

    const gone = async (read: () => Promise<unknown>, what: string) => {
      await read().then(
        () => expect.fail(`${what} is still there`),
        (e: unknown) => expect(isNotFound(e), `${what}: ${String(e)}`).toBe(true),
      );
    };
    for (const name of ['licensegate', 'licensegate-versionpolicy-viewer', 'licensegate-webhook']) await gone(() => rbac.readClusterRole({ name }), `ClusterRole ${name}`);
    await gone(() => rbac.readClusterRoleBinding({ name: 'licensegate' }), 'ClusterRoleBinding licensegate');
    expect((await admission.listValidatingAdmissionPolicy()).items.map((p) => p.metadata?.name).filter((n) => n?.startsWith('licensegate'))).toEqual([]);
    expect((await admission.listValidatingAdmissionPolicyBinding()).items.map((p) => p.metadata?.name).filter((n) => n?.startsWith('licensegate'))).toEqual([]);
    await gone(() => admission.readValidatingWebhookConfiguration({ name: 'licensegate' }), 'ValidatingWebhookConfiguration licensegate');

    // The release namespace keeps only what the vendor put there (the example credentials).
    const left: string[] = [];
    for (const [apiVersion, kind] of [
      ['apps/v1', 'Deployment'], ['v1', 'Service'], ['v1', 'ServiceAccount'], ['rbac.authorization.k8s.io/v1', 'Role'],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding'], ['coordination.k8s.io/v1', 'Lease'], ['policy/v1', 'PodDisruptionBudget'], ['v1', 'Secret'],
    ] as const) {
      for (const o of (await objects.list(apiVersion, kind, namespace)).items) {
        // Every namespace has its default ServiceAccount; the credentials Secrets are the vendor's.
        if (kind === 'ServiceAccount' && o.metadata?.name === 'default') continue;
        if (kind === 'Secret' && ['acme-registry', 'acme-registry-enterprise'].includes(o.metadata!.name!)) continue;
        left.push(`${kind}/${o.metadata?.name}`);
      }
    }
    expect(left).toEqual([]);

    // Customer namespaces are released, not deleted, and hold nothing of the operator's.
    for (const ns of EXAMPLE_NAMESPACES) {
      const live = await core.readNamespace({ name: ns });
      expect(live.metadata?.labels?.[CUSTOMER_LABEL], ns).toBeUndefined();
      expect((await core.listNamespacedSecret({ namespace: ns, labelSelector: OWNED_SELECTOR })).items, ns).toEqual([]);
      expect((await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: ns })).items, ns).toEqual([]);
    }

    // The CRDs stay: Helm never deletes what it installed from crds/.
    const crds = (await admin.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition()).items.map((c) => c.metadata!.name!);
    expect(crds.filter((n) => n.endsWith(`.${GROUP}`)).sort()).toEqual([`applications.${GROUP}`, `customers.${GROUP}`, `ledgers.${GROUP}`, `licenses.${GROUP}`, `versionpolicies.${GROUP}`]);
  }, 180_000);
});
