/**
 * The operator's identity may patch every ServiceAccount by RBAC; the confinement policy lets
 * it change only the imagePullSecrets (and its own annotation) of `default` ServiceAccounts.
 * A compromised operator trying anything else is refused by the API server.
 */
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects } from '../../src/kube/apply.js';
import { serviceAccountKubeConfig } from '../../src/localcluster/index.js';
import { renderServiceAccountConfinementObjects } from '../../src/manifests/confinement-serviceaccounts.js';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../../src/render/serviceaccount.js';
import { eventually, kubeConfig, uniqueName } from './context.js';

const admin = kubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const identityNamespace = uniqueName('confine-sa-op');
const namespace = uniqueName('confine-sa');
const policy = uniqueName('confine-sa-policy');
let operator: CoreV1Api;

/** The Status message of a refused call; fails when the call was allowed. */
async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return (JSON.parse(String(error.body)) as { message: string }).message;
    throw error;
  }
  throw new Error('the request was allowed');
}

beforeAll(async () => {
  // An identity with every RBAC permission: only the policy stands in its way.
  const kc: KubeConfig = await serviceAccountKubeConfig(admin, { namespace: identityNamespace, name: 'operator', clusterRole: 'cluster-admin' });
  operator = kc.makeApiClient(CoreV1Api);
  const objects = renderServiceAccountConfinementObjects({ operatorUsername: `system:serviceaccount:${identityNamespace}:operator` });
  // Own names: the chart installs the same policy for its own operator in other suites.
  objects[0]!.metadata.name = policy;
  objects[1]!.metadata.name = policy;
  (objects[1]!.spec as { policyName: string }).policyName = policy;
  await applyObjects(admin, [
    ...objects,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'build-bot', namespace } },
  ], { fieldManager: 'test' });
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace }));
  // The API server picks up a new policy within a second or so.
  await eventually(() => refusal(operator.deleteNamespacedServiceAccount({ name: 'build-bot', namespace, dryRun: 'All' })), 15_000);
});

afterAll(async () => {
  const admission = await import('@kubernetes/client-node').then((m) => admin.makeApiClient(m.AdmissionregistrationV1Api));
  await admission.deleteValidatingAdmissionPolicyBinding({ name: policy }).catch(() => undefined);
  await admission.deleteValidatingAdmissionPolicy({ name: policy }).catch(() => undefined);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('the operator identity on ServiceAccounts', () => {
  it('may set imagePullSecrets and its annotation on a default ServiceAccount', async () => {
    await operator.patchNamespacedServiceAccount(
      {
        name: 'default',
        namespace,
        body: { metadata: { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: 'licensegate-pull-x' } }, imagePullSecrets: [{ name: 'licensegate-pull-x' }] },
      },
      mergePatch,
    );
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace });
    expect(sa.imagePullSecrets).toEqual([{ name: 'licensegate-pull-x' }]);
  });

  it('is refused every other ServiceAccount, creating and deleting them', async () => {
    const expected = 'licensegate: the operator may only change imagePullSecrets';
    expect(await refusal(operator.patchNamespacedServiceAccount({ name: 'build-bot', namespace, body: { imagePullSecrets: [{ name: 'x' }] } }, mergePatch))).toContain(expected);
    expect(await refusal(operator.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'planted' } }, dryRun: 'All' }))).toContain(expected);
    expect(await refusal(operator.deleteNamespacedServiceAccount({ name: 'default', namespace, dryRun: 'All' }))).toContain(expected);
  });

  it('is refused any other field of a default ServiceAccount: token secrets, automounting, labels, other annotations', async () => {
    const patch = (body: object) => refusal(operator.patchNamespacedServiceAccount({ name: 'default', namespace, body, dryRun: 'All' }, mergePatch));
    const expected = 'another field changed';
    expect(await patch({ secrets: [{ name: 'stolen-token' }] })).toContain(expected);
    expect(await patch({ automountServiceAccountToken: false })).toContain(expected);
    expect(await patch({ metadata: { labels: { team: 'x' } } })).toContain(expected);
    expect(await patch({ metadata: { annotations: { 'kubernetes.io/enforce-mountable-secrets': 'true' } } })).toContain(expected);
    // The admin is not confined.
    await core.patchNamespacedServiceAccount({ name: 'default', namespace, body: { metadata: { labels: { team: 'x' } } }, dryRun: 'All' }, mergePatch);
  });
});
