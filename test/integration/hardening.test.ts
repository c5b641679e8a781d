/**
 * Defects found in review, each shown fixed on the real API server: bad input, a tenant or a
 * fault must never make the operator fail open.
 */
import { AdmissionregistrationV1Api, ApiextensionsV1Api, AppsV1Api, type CoreV1Event, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type Application, type Customer, type License, type VersionPolicy } from '../../src/api/index.js';
import { Reason } from '../../src/licensing/reasons.js';
import { CREDENTIALS_NOT_ALLOWED } from '../../src/render/credentials.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyObjects } from '../../src/kube/apply.js';
import { NODE_SELECTOR_ANNOTATION, REPLICAS_ANNOTATION, STOPPED_NODE_LABEL } from '../../src/enforcement/sweep.js';
import { ENFORCEMENT_FAILED } from '../../src/reconcile/sweep.js';
import { deploymentWith, untilAdmission } from './admission-harness.js';
import type { Operator } from '../../src/operator.js';
import { CUSTOMER_INVALID_SPEC } from '../../src/render/plan.js';
import { CREDENTIALS_OPT_IN_LABEL, CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { eventually, isNotFound, kubeConfig, uniqueName } from './context.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const crds = kc.makeApiClient(ApiextensionsV1Api);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;
const CUSTOMER_PATH = `/apis/${GROUP}/${VERSION}/customers`;
const LICENSE_PATH = `/apis/${GROUP}/${VERSION}/licenses`;
const APPLICATION_PATH = `/apis/${GROUP}/${VERSION}/applications`;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const OPERATOR_NAMESPACE = 'licensegate-system';

const app = uniqueName('hard-app');
const repo = `registry.test.example/${app}/server`;

let operator: Operator;

beforeAll(async () => {
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [repo], versions: [{ version: '1.0.0' }] } },
  ], { fieldManager: 'test' });
  operator = await startOperator(kc);
});

afterAll(async () => {
  await operator?.stop();
});

/**
 * Runs `body` while the Customer CRD accepts any spec, as an older schema would have: the only
 * way to store a Customer that the operator's schema no longer understands.
 */
async function withLooseCustomerSchema(body: () => Promise<void>): Promise<void> {
  const name = `customers.${GROUP}`;
  // The original as generated (raw JSON: client-node's typed read renames x-kubernetes-* keys).
  const [generated] = [parseYaml(readFileSync(join(import.meta.dirname, '..', '..', 'crds', `${GROUP}_customers.yaml`), 'utf8'))] as unknown as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] };
  }[];
  const index = generated!.spec.versions.findIndex((v) => v.name === VERSION);
  // Only spec.enforcement is loosened: rules elsewhere in the schema name other spec fields.
  const path = `/spec/versions/${index}/schema/openAPIV3Schema/properties/spec/properties/enforcement`;
  const original = (generated!.spec.versions[index]!.schema.openAPIV3Schema.properties['spec'] as { properties: Record<string, unknown> }).properties['enforcement'];
  await crds.patchCustomResourceDefinition({ name, body: [{ op: 'replace', path, value: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }] }, jsonPatch);
  try {
    await body();
  } finally {
    await crds.patchCustomResourceDefinition({ name, body: [{ op: 'replace', path, value: original }] }, jsonPatch);
    // Leave the schema as the other suites expect it, enforced again before going on.
    await eventually(async () => {
      const bad = { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: 'schema-probe' }, spec: { enforcement: { admission: 'Sometimes' } } };
      const refused = await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', body: bad, dryRun: 'All' }).then(() => false, () => true);
      if (!refused) throw new Error('the Customer schema is not enforced again yet');
    });
  }
}

describe('defect 1: a Customer that no longer parses', () => {
  const customer = uniqueName('hard-bad-cust');
  const license = uniqueName('hard-bad-lic');

  it('keeps its namespaces gated with nothing granted, and says why', async () => {
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      expect(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0']);
    });

    await withLooseCustomerSchema(async () => {
      // The API server takes a moment to serve the loosened schema.
      await eventually(() =>
        custom.patchClusterCustomObject(
          { group: GROUP, version: VERSION, plural: 'customers', name: customer, body: [{ op: 'add', path: '/spec/enforcement', value: { admission: 'Sometimes' } }] },
          jsonPatch,
        ),
      );
    });

    await watchUntilPasses<Customer>(kc, CUSTOMER_PATH, (all) => {
      const ready = all.find((c) => c.metadata.name === customer)?.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ status: 'False', reason: CUSTOMER_INVALID_SPEC, message: expect.stringContaining('spec.enforcement.admission') });
    });
    // The reconcile that wrote the condition also synced the namespace and its policy.
    const ns: V1Namespace = await core.readNamespace({ name: customer });
    expect(ns.metadata?.labels?.[CUSTOMER_LABEL]).toBe(customer);
    const policy = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: customer, name: 'licensegate' })) as VersionPolicy;
    expect(policy.spec.admission).toBe('Deny');
    expect(policy.spec.repositories[repo]?.allowedTags).toEqual([]);
  });
});

describe('defect 3: credentials Secrets outside the operator namespace (confused deputy)', () => {
  const VENDOR = 'license-writer@vendor.example';
  const asVendor = setHeaderOptions('Impersonate-User', VENDOR);
  const victimNs = uniqueName('hard-victim');
  const victim = 'database-password';
  const customer = uniqueName('hard-deputy');
  const license = uniqueName('hard-deputy-lic');
  const foreignApp = uniqueName('hard-deputy-app');

  beforeAll(async () => {
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: victimNs } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: victim, namespace: victimNs }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{"auths":{"db.internal":{"auth":"ZGJhOmh1bnRlcjI="}}}' } },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
    ], { fieldManager: 'test' });
    // Someone who may write Licenses and nothing else: no Secret rights anywhere.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const role = uniqueName('license-writer');
    await rbac.createClusterRole({ body: { metadata: { name: role }, rules: [{ apiGroups: [GROUP], resources: ['licenses'], verbs: ['*'] }] } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name: role }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VENDOR }] } });
  });

  it("a License writer naming another namespace's Secret gets Invalid with a reason, and no copy", async () => {
    await expect(core.readNamespacedSecret({ name: victim, namespace: victimNs }, asVendor)).rejects.toThrow(/forbidden/i);
    await custom.createClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', body: { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'], registryCredentialsSecret: { namespace: victimNs, name: victim } } } },
      asVendor,
    );
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => {
      const status = all.find((l) => l.metadata.name === license)?.status;
      expect(status?.phase).toBe('Invalid');
      expect(status?.conditions?.find((c) => c.type === 'Valid')).toMatchObject({
        reason: Reason.CredentialsNotAllowed,
        message: expect.stringContaining(`Secret ${victimNs}/${victim} may not be used as registry credentials`),
      });
    });
    await expect(core.readNamespacedSecret({ name: pullSecretName(app), namespace: customer })).rejects.toSatisfy(isNotFound);
    const policy = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: customer, name: 'licensegate' })) as VersionPolicy;
    expect(policy.spec.repositories[repo]?.allowedTags).toEqual([]);
  });

  it('the same Secret serves once its owners opt in by label', async () => {
    await core.patchNamespacedSecret({ name: victim, namespace: victimNs, body: { metadata: { labels: { [CREDENTIALS_OPT_IN_LABEL]: 'true' } } } }, mergePatch);
    // Secrets outside the operator namespace are not watched: a License edit (or resync) re-reads them.
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { metadata: { annotations: { touched: '1' } } } }, mergePatch);
    await watchUntilPasses<V1Secret>(kc, `/api/v1/namespaces/${customer}/secrets`, (all) => {
      expect(all.map((s) => s.metadata?.name)).toContain(pullSecretName(app));
    });
  });

  it("an Application naming another namespace's Secret gets a condition saying why", async () => {
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: foreignApp }, spec: { images: [`registry.test.example/${foreignApp}/x`], versions: [{ version: '1.0.0' }], registry: { server: 'registry.test.example', credentialsSecret: { namespace: 'kube-system', name: 'anything' } } } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<Application>(kc, APPLICATION_PATH, (all) => {
      expect(all.find((a) => a.metadata.name === foreignApp)?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: CREDENTIALS_NOT_ALLOWED,
        message: expect.stringContaining('kube-system/anything may not be used'),
      });
    });
  });
});

describe('defect 2: an unreadable sweep record on a workload', () => {
  const customer = uniqueName('hard-record');
  const license = uniqueName('hard-record-lic');
  const apps = kc.makeApiClient(AppsV1Api);

  it('is dropped with a Warning; the customer reconcile goes on (statuses keep moving)', async () => {
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => expect(all.find((l) => l.metadata.name === license)?.status?.phase).toBe('Active'));
    // A cluster admin (exempt from the protection policy) leaves a record the operator never wrote.
    await apps.createNamespacedDaemonSet({
      namespace: customer,
      body: {
        metadata: { name: 'agent', annotations: { [NODE_SELECTOR_ANNOTATION]: '{not json' } },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { [STOPPED_NODE_LABEL]: 'true' }, containers: [{ name: 'c', image: `${repo}:1.0.0` }] } },
        },
      },
    });
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { versions: ['1.0.0', '9.9.9'] } } }, mergePatch);
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => {
      const l = all.find((x) => x.metadata.name === license);
      expect(l?.status?.observedGeneration).toBe(l?.metadata.generation);
    });
    await watchUntilPasses<CoreV1Event>(kc, `/api/v1/namespaces/${customer}/events`, (events) => {
      expect(events.find((e) => e.involvedObject.name === 'agent' && e.reason === 'UnreadableRecord')?.message).toContain('did not write');
    });
    const ds = await apps.readNamespacedDaemonSet({ name: 'agent', namespace: customer });
    expect(ds.metadata?.annotations?.[NODE_SELECTOR_ANNOTATION]).toBeUndefined();
    expect(ds.spec?.template.spec?.nodeSelector?.[STOPPED_NODE_LABEL]).toBeUndefined();
  });
});

describe('isolation: a workload the sweep cannot patch', () => {
  const customer = uniqueName('hard-iso');
  const other = uniqueName('hard-iso-other');
  const license = uniqueName('hard-iso-lic');
  const otherLicense = uniqueName('hard-iso-other-lic');
  const apps = kc.makeApiClient(AppsV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const policy = uniqueName('hard-unpatchable');

  afterAll(async () => {
    await admission.deleteValidatingAdmissionPolicyBinding({ name: policy }).catch(() => undefined);
    await admission.deleteValidatingAdmissionPolicy({ name: policy }).catch(() => undefined);
  });

  it('gets an Event and a metric; its neighbours are still enforced and statuses still written, and another customer is untouched', async () => {
    // Refuses every update of a labelled Deployment, the operator's included.
    await applyObjects(kc, [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['deployments'] }] },
          validations: [{ expression: 'false', message: 'this Deployment is frozen' }],
        },
      },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'], matchResources: { objectSelector: { matchLabels: { 'test.licensegate.dev/frozen': 'true' } } } } },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: other }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: otherLicense }, spec: { customer: other, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      for (const ns of [customer, other]) expect(all.find((p) => p.metadata.namespace === ns)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0']);
    });
    const frozen = deploymentWith(customer, 'frozen', [`${repo}:1.0.0`], 2);
    frozen.metadata!.labels = { 'test.licensegate.dev/frozen': 'true' };
    await apps.createNamespacedDeployment({ namespace: customer, body: frozen as never });
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'plain', [`${repo}:1.0.0`], 2) as never });
    // A freshly applied policy takes a moment to reach admission.
    await untilAdmission(async () =>
      apps.patchNamespacedDeployment({ name: 'frozen', namespace: customer, body: { metadata: { annotations: { probe: '1' } } }, dryRun: 'All' }, mergePatch).then(() => false, () => true),
    );
    await apps.createNamespacedDeployment({ namespace: other, body: deploymentWith(other, 'web', [`${repo}:1.0.0`], 2) as never });

    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { suspended: true } } }, mergePatch);
    await watchUntilPasses<CoreV1Event>(kc, `/api/v1/namespaces/${customer}/events`, (events) => {
      expect(events.find((e) => e.involvedObject.name === 'frozen' && e.reason === ENFORCEMENT_FAILED)?.message).toContain('this Deployment is frozen');
    }, 30_000);
    await eventually(async () => expect((await apps.readNamespacedDeployment({ name: 'plain', namespace: customer })).metadata?.annotations?.[REPLICAS_ANNOTATION]).toBe('2'));
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => expect(all.find((l) => l.metadata.name === license)?.status?.phase).toBe('Suspended'));
    const metrics = await operator.metrics.registry.getSingleMetricAsString('licensegate_sweep_actions_total');
    expect(metrics).toMatch(/action="ScaleToZero",outcome="failed"} [1-9]/);

    // The other customer carries on: an edit there converges while this one keeps failing.
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: otherLicense, body: { spec: { versions: ['1.0.0', '1.1.0'] } } }, mergePatch);
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      expect(all.find((p) => p.metadata.namespace === other)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0', '1.1.0']);
    });
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: other })).spec?.replicas).toBe(2);
  });
});

describe('defect 6: bookkeeping stays bounded by what exists', () => {
  it('forgets written statuses of Licenses and Customers that are gone', async () => {
    await operator.whenIdle();
    const before = operator.bookkeeping.writtenStatuses;
    const customer = uniqueName('hard-churn');
    const licenses = Array.from({ length: 8 }, (_, i) => `${customer}-l${i}`);
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      ...licenses.map((name) => ({ apiVersion: API_VERSION, kind: 'License', metadata: { name }, spec: { customer, application: app, versions: ['1.0.0'] } })),
    ], { fieldManager: 'test' });
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => {
      for (const name of licenses) expect(all.find((l) => l.metadata.name === name)?.status?.phase).toBe('Active');
    });
    for (const name of licenses) await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name });
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: customer });
    await watchUntilPasses<Customer>(kc, CUSTOMER_PATH, (all) => expect(all.map((c) => c.metadata.name)).not.toContain(customer));
    await operator.whenIdle();
    expect(operator.bookkeeping.writtenStatuses).toBeLessThanOrEqual(before);
  });
});
