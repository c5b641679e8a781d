/**
 * A tenant with full rights in its own namespace (impersonated, namespace-scoped RBAC) still
 * cannot undo licensing: the protection policies and the version ratchet refuse it.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, VERSION_POLICY_NAME, type VersionPolicy } from '../../src/api/index.js';
import { ADMISSION_LABEL } from '../../src/vocabulary/labels.js';
import { ENFORCEMENT_ANNOTATIONS, renderProtectionObjects } from '../../src/enforcement/protection.js';
import { NODE_SELECTOR_ANNOTATION, REPLICAS_ANNOTATION } from '../../src/enforcement/sweep.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import type { Operator } from '../../src/operator.js';
import { CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { deploymentWith, installAdmissionPolicy, serverVerdict, untilAdmission } from './admission-harness.js';
import { kubeConfig, uniqueName } from './context.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const TENANT = 'jane@tenant.example';
/** Every call made with this option runs as the tenant (Impersonate-User). */
const asTenant = setHeaderOptions('Impersonate-User', TENANT);
const asTenantMerge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch, asTenant);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

const app = uniqueName('tenant-app');
const customer = uniqueName('tenant');
const license = uniqueName('tenant-lic');
const secret = uniqueName('tenant-creds');
const repo = `registry.test.example/${app}/server`;
let operator: Operator;

/** The refusal message of a call made as the tenant ('' if it succeeded). */
const refusal = (call: Promise<unknown>) => call.then(() => '', (e: unknown) => apiError(e).message);

beforeAll(async () => {
  await installAdmissionPolicy(kc);
  // The operator in these tests runs as the admin user; it is the one exempt identity.
  await applyObjects(kc, renderProtectionObjects({ exemptUsernames: ['admin'] }), { fieldManager: 'test' });
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: 'licensegate-system' }, type: 'kubernetes.io/basic-auth', stringData: { username: 'u', password: 'p' } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [repo], versions: [{ version: '1.0.0' }], registry: { server: 'registry.test.example', credentialsSecret: { namespace: 'licensegate-system', name: secret } } } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
    { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
  ], { fieldManager: 'test' });
  operator = await startOperator(kc);
  await watchUntilPasses<VersionPolicy>(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, (all) => {
    expect(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0']);
  });
  // The tenant may do anything inside its namespace, and edit the namespace object itself.
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace: customer, body: { metadata: { name: 'tenant-admin' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } });
  await rbac.createNamespacedRoleBinding({ namespace: customer, body: { metadata: { name: 'tenant-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant-admin' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: TENANT }] } });
  const nsRole = uniqueName('tenant-ns');
  await rbac.createClusterRole({ body: { metadata: { name: nsRole }, rules: [{ apiGroups: [''], resources: ['namespaces'], resourceNames: [customer], verbs: ['get', 'patch', 'update'] }] } });
  await rbac.createClusterRoleBinding({ body: { metadata: { name: nsRole }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: nsRole }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: TENANT }] } });
  // Freshly applied policies take a moment to reach the API server's admission: wait until both refuse (dry runs).
  await untilAdmission(async () => {
    const vp = await refusal(custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: customer, name: VERSION_POLICY_NAME, dryRun: 'All' }, asTenant));
    const ns = await refusal(core.patchNamespace({ name: customer, body: { metadata: { labels: { [ADMISSION_LABEL]: 'Audit' } } }, dryRun: 'All' }, asTenantMerge));
    const forged = deploymentWith(customer, 'probe', [`${repo}:1.0.0`]) as V1Deployment;
    forged.metadata!.annotations = { [REPLICAS_ANNOTATION]: '1' };
    const record = await refusal(apps.createNamespacedDeployment({ namespace: customer, body: forged, dryRun: 'All' }, asTenant));
    return vp.includes('written only by the licensegate operator') && ns.includes('set only by the licensegate operator') && record.includes("operator's record");
  });
});

afterAll(async () => {
  await operator?.stop();
});

describe('a tenant with admin rights in its namespace', () => {
  it('may deploy a licensed version (its RBAC works)', async () => {
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'web', [`${repo}:1.0.0`], 2) as V1Deployment }, asTenant);
  });

  it('cannot delete or edit the VersionPolicy', async () => {
    const del = await refusal(custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: customer, name: VERSION_POLICY_NAME }, asTenant));
    expect(del).toContain('written only by the licensegate operator');
    const edit = await refusal(
      custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, plural: 'versionpolicies', namespace: customer, name: VERSION_POLICY_NAME, body: { spec: { repositories: { [repo]: { allowedTags: ['9.9.9'] } } } } },
        asTenantMerge,
      ),
    );
    expect(edit).toContain('written only by the licensegate operator');
  });

  it('cannot edit or delete the pull secret, nor forge one', async () => {
    const edit = await refusal(core.patchNamespacedSecret({ name: pullSecretName(app), namespace: customer, body: { metadata: { labels: { extra: 'x' } } } }, asTenantMerge));
    expect(edit).toContain('written only by the licensegate operator');
    const del = await refusal(core.deleteNamespacedSecret({ name: pullSecretName(app), namespace: customer }, asTenant));
    expect(del).toContain('written only by the licensegate operator');
    const forged = await refusal(
      core.createNamespacedSecret({ namespace: customer, body: { metadata: { name: 'forged', labels: { 'app.kubernetes.io/managed-by': 'licensegate' } }, stringData: { a: 'b' } } }, asTenant),
    );
    expect(forged).toContain('written only by the licensegate operator');
    // Its own secrets are its own business.
    await core.createNamespacedSecret({ namespace: customer, body: { metadata: { name: 'mine' }, stringData: { a: 'b' } } }, asTenant);
  });

  it('cannot get the operator to adopt, overwrite or delete look-alike Secrets', async () => {
    // Named and labelled like the operator's, minus the managed-by label the policy guards.
    const lookAlike = { metadata: { name: 'licensegate-pull-something', labels: { [CUSTOMER_LABEL]: customer, 'licensegate.dev/application': app } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{"auths":{}}' } };
    await core.createNamespacedSecret({ namespace: customer, body: lookAlike }, asTenant);
    // A reconcile of the customer (an edit to its License) leaves it alone.
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { metadata: { annotations: { nudge: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await operator.whenIdle();
    const still = await core.readNamespacedSecret({ name: 'licensegate-pull-something', namespace: customer });
    expect(still.metadata?.managedFields?.map((f) => f.manager)).not.toContain('licensegate');
    expect(Buffer.from(still.data!['.dockerconfigjson']!, 'base64').toString()).toBe('{"auths":{}}');
  });

  it('cannot relabel its namespace out of the customer or out of Deny', async () => {
    for (const [key, value] of [[CUSTOMER_LABEL, 'someone-else'], [CUSTOMER_LABEL, null], [ADMISSION_LABEL, 'Audit']] as const) {
      const message = await refusal(core.patchNamespace({ name: customer, body: { metadata: { labels: { [key]: value } } } }, asTenantMerge));
      expect(message).toContain(`the label ${key} is set only by the licensegate operator`);
    }
    // Other labels are fine.
    await core.patchNamespace({ name: customer, body: { metadata: { labels: { team: 'blue' } } } }, asTenantMerge);
  });

  it("cannot forge, change or remove the sweep's records on its workloads", async () => {
    // Forged at creation: a replica record the operator would "restore" past every limit.
    for (const key of ENFORCEMENT_ANNOTATIONS) {
      const forged = deploymentWith(customer, `forged-${ENFORCEMENT_ANNOTATIONS.indexOf(key)}`, [`${repo}:1.0.0`]) as V1Deployment;
      forged.metadata!.annotations = { [key]: key === NODE_SELECTOR_ANNOTATION ? '{}' : '500' };
      const message = await refusal(apps.createNamespacedDeployment({ namespace: customer, body: forged }, asTenant));
      expect(message).toContain(`the annotation ${key} is the operator's record`);
      // Added to an existing workload.
      const added = await refusal(apps.patchNamespacedDeployment({ name: 'web', namespace: customer, body: { metadata: { annotations: { [key]: '500' } } } }, asTenantMerge));
      expect(added).toContain(`the annotation ${key}`);
    }
    // Other annotations are the tenant's own.
    await apps.patchNamespacedDeployment({ name: 'web', namespace: customer, body: { metadata: { annotations: { team: 'blue' } } } }, asTenantMerge);
  });

  it('cannot scale an out-of-license Deployment back up', async () => {
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { suspended: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await untilAdmission(async () => (await apps.readNamespacedDeployment({ name: 'web', namespace: customer })).spec?.replicas === 0, 30_000);
    const message = await refusal(apps.patchNamespacedDeployment({ name: 'web', namespace: customer, body: { spec: { replicas: 2 } } }, asTenantMerge));
    expect(message).toContain('may not be scaled up');
    // Its record of the count to restore can be neither raised nor dropped.
    for (const value of ['50', null]) {
      const edit = await refusal(apps.patchNamespacedDeployment({ name: 'web', namespace: customer, body: { metadata: { annotations: { [REPLICAS_ANNOTATION]: value } } } }, asTenantMerge));
      expect(edit).toContain(`the annotation ${REPLICAS_ANNOTATION}`);
    }
    // Scaling down, or deleting, stays allowed.
    expect((await serverVerdict(kc, deploymentWith(customer, 'new', [`${repo}:1.0.0`]))).allowed).toBe(false);
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: customer }, asTenant);
  });
});
