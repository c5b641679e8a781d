/**
 * The operator lists the pull Secrets it writes on each customer namespace's `default`
 * ServiceAccount, so that the API server's ServiceAccount admission plugin copies them into
 * pods that name none; it leaves the namespace owner's entries alone and takes its own back.
 */
import { CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1ServiceAccount } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import type { Operator } from '../../src/operator.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../../src/render/serviceaccount.js';
import { kubeConfig, uniqueName } from './context.js';
import { operatorKubeConfig, startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const apply = (objects: Parameters<typeof applyObjects>[1]) => applyObjects(kc, objects, { fieldManager: 'test' });

let operator: Operator;
beforeAll(async () => {
  await apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }]);
  // Installing the policies exempts this operator's identity: another file (tenant.test.ts)
  // may have left protection policies exempting only its own operator user.
  operator = await startOperator(await operatorKubeConfig(kc), { LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true' });
});
afterAll(async () => {
  await operator?.stop();
});

/** Waits until the namespace's default ServiceAccount lists exactly `names`, in order. */
async function expectPullSecrets(namespace: string, names: string[]): Promise<V1ServiceAccount> {
  let found: V1ServiceAccount | undefined;
  await watchUntilPasses<V1ServiceAccount>(kc, `/api/v1/namespaces/${namespace}/serviceaccounts`, (all) => {
    found = all.find((sa) => sa.metadata?.name === 'default');
    expect((found?.imagePullSecrets ?? []).map((r) => r.name)).toEqual(names);
  });
  return found!;
}

async function patchCustomer(name: string, spec: Record<string, unknown>) {
  await custom.patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: 'customers', name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

describe('pull secrets on the default ServiceAccount', () => {
  const customer = uniqueName('sa-cust');
  const app = uniqueName('sa-app');
  const credentials = uniqueName('sa-creds');
  const license = uniqueName('sa-lic');
  const secret = pullSecretName(app);

  beforeAll(async () => {
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: credentials, namespace: 'licensegate-system' },
        type: 'kubernetes.io/basic-auth',
        stringData: { username: 'puller', password: 'pw' },
      },
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name: app },
        spec: {
          images: [`registry.test.example/${app}/server`],
          versions: [{ version: '1.0.0' }],
          registry: { server: 'registry.test.example', credentialsSecret: { namespace: 'licensegate-system', name: credentials } },
        },
      },
      // The namespace exists first, with an entry of the owner's on its default ServiceAccount.
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: customer } },
    ]);
    await watchUntilPasses<V1ServiceAccount>(kc, `/api/v1/namespaces/${customer}/serviceaccounts`, (all) => {
      expect(all.some((sa) => sa.metadata?.name === 'default')).toBe(true);
    });
    await core.patchNamespacedServiceAccount(
      { name: 'default', namespace: customer, body: { imagePullSecrets: [{ name: 'their-own-registry' }] } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await apply([
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ]);
  });

  it('adds the pull secret after the owner\'s entry, and a pod naming none gets both from the API server', async () => {
    const sa = await expectPullSecrets(customer, ['their-own-registry', secret]);
    expect(sa.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]).toBe(secret);
    // The ServiceAccount admission plugin copies the account's imagePullSecrets into the pod.
    const pod = await core.createNamespacedPod({
      namespace: customer,
      body: { metadata: { name: 'no-secret-named' }, spec: { containers: [{ name: 'app', image: `registry.test.example/${app}/server:1.0.0` }] } },
      dryRun: 'All',
    });
    expect(pod.spec?.imagePullSecrets?.map((r) => r.name)).toEqual(['their-own-registry', secret]);
  });

  it('puts its entry back when a tenant strips it (and the record of it) from the ServiceAccount', async () => {
    // The tenant administers its namespace, ServiceAccounts included: that is theirs to edit,
    // and the operator converges back to listing the pull secret.
    const tenant = 'jane@tenant.example';
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace: customer, body: { metadata: { name: 'tenant-admin' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: customer,
      body: {
        metadata: { name: 'tenant-admin' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: tenant }],
      },
    });
    await core.patchNamespacedServiceAccount(
      {
        name: 'default',
        namespace: customer,
        body: { metadata: { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: null } }, imagePullSecrets: [{ name: 'their-own-registry' }] },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch, setHeaderOptions('Impersonate-User', tenant)),
    );
    await expectPullSecrets(customer, ['their-own-registry', secret]);
  });

  it('takes its entry back when the customer turns it off, and adds it again when turned on', async () => {
    await patchCustomer(customer, { addPullSecretsToDefaultServiceAccount: false });
    const sa = await expectPullSecrets(customer, ['their-own-registry']);
    expect(sa.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]).toBeUndefined();
    // The pull Secret itself stays: workloads may name it.
    await core.readNamespacedSecret({ name: secret, namespace: customer });
    await patchCustomer(customer, { addPullSecretsToDefaultServiceAccount: null });
    await expectPullSecrets(customer, ['their-own-registry', secret]);
  });

  it('takes its entry back when the license goes, and leaves the owner\'s', async () => {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license });
    await expectPullSecrets(customer, ['their-own-registry']);
  });

  it('takes its entry back from a namespace the customer releases, and keeps it on the others', async () => {
    const owner = uniqueName('sa-rel');
    const [kept, released] = [`${owner}-kept`, `${owner}-released`];
    await apply([
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: owner }, spec: { namespaces: [kept, released] } },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('sa-lic') }, spec: { customer: owner, application: app, versions: ['1.0.0'] } },
    ]);
    await Promise.all([kept, released].map((ns) => expectPullSecrets(ns, [secret])));
    await patchCustomer(owner, { namespaces: [kept] });
    await expectPullSecrets(released, []);
    await expectPullSecrets(kept, [secret]);
  });

  it('lists the pull secret on a namespace the operator creates, once the ServiceAccount controller has made the account', async () => {
    const fresh = uniqueName('sa-fresh');
    await apply([
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: fresh }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('sa-lic') }, spec: { customer: fresh, application: app, versions: ['1.0.0'] } },
    ]);
    await expectPullSecrets(fresh, [secret]);
  });
});
