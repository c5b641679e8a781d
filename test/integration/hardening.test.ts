/**
 * Defects found in review, each shown fixed on the real API server: bad input, a tenant or a
 * fault must never make the operator fail open.
 */
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Namespace } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type Customer, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import type { Operator } from '../../src/operator.js';
import { CUSTOMER_INVALID_SPEC } from '../../src/render/plan.js';
import { CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { kubeConfig, uniqueName } from './context.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const crds = kc.makeApiClient(ApiextensionsV1Api);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;
const CUSTOMER_PATH = `/apis/${GROUP}/${VERSION}/customers`;
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
  const crd = await crds.readCustomResourceDefinition({ name });
  const index = crd.spec.versions.findIndex((v) => v.name === VERSION);
  const path = `/spec/versions/${index}/schema/openAPIV3Schema/properties/spec`;
  const original = crd.spec.versions[index]!.schema!.openAPIV3Schema!.properties!['spec'];
  await crds.patchCustomResourceDefinition({ name, body: [{ op: 'replace', path, value: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }] }, jsonPatch);
  try {
    await body();
  } finally {
    await crds.patchCustomResourceDefinition({ name, body: [{ op: 'replace', path, value: original }] }, jsonPatch);
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
      await custom.patchClusterCustomObject(
        { group: GROUP, version: VERSION, plural: 'customers', name: customer, body: [{ op: 'replace', path: '/spec', value: { enforcement: { admission: 'Sometimes' } } }] },
        jsonPatch,
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
