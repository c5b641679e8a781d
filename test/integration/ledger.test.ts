/**
 * The Ledger holds the one trial per customer × application: deleting and re-creating the
 * Trial License (same name or another) or the Customer does not start a second trial.
 */
import { CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type License } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import { Reason } from '../../src/licensing/reasons.js';
import type { Operator } from '../../src/operator.js';
import { testApplication } from './admission-suite.js';
import { kubeConfig, uniqueName } from './context.js';
import { operatorKubeConfig, startOperator, watchUntil, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const LICENSE_PATH = `/apis/${GROUP}/${VERSION}/licenses`;
const LEDGER_PATH = `/apis/${GROUP}/${VERSION}/ledgers`;
const app = uniqueName('ldg-app');
let operator: Operator | undefined;

beforeAll(async () => {
  await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }, testApplication(app).object], { fieldManager: 'test' });
  operator = await startOperator(await operatorKubeConfig(kc), { LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true' });
});

afterAll(async () => {
  await operator?.stop();
});

const trialLicense = (name: string, customer: string) => ({
  apiVersion: API_VERSION,
  kind: 'License',
  metadata: { name },
  spec: { customer, application: app, versions: ['*'], type: 'Trial', trialDays: 7 },
});
const deleteLicense = (name: string) => custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name });
const deleteCustomer = (name: string) => custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name });

async function licenseState(name: string, predicate: (l: License) => boolean): Promise<License> {
  return watchUntil<License, License>(kc, LICENSE_PATH, (all) => {
    const l = all.find((x) => x.metadata.name === name);
    return l && predicate(l) ? l : undefined;
  });
}
const trialUsed = (l: License) =>
  l.status?.phase === 'Invalid' && l.status.conditions?.some((c) => c.type === 'Valid' && c.reason === Reason.TrialAlreadyUsed) === true;

describe('trial record in the Ledger', () => {
  it('survives deleting and re-creating the Trial License (same name, other name) and the Customer', async () => {
    const customer = uniqueName('ldg-cust');
    const first = uniqueName('ldg-trial');
    await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} }, trialLicense(first, customer)], { fieldManager: 'test' });
    const active = await licenseState(first, (l) => l.status?.phase === 'Active' && l.status.trialStartedAt !== undefined);
    const ledger = await watchUntil<Ledger, Ledger>(kc, LEDGER_PATH, (all) => all.find((l) => l.metadata.name === ledgerName(customer, app) && l.spec.trial !== undefined));
    expect(ledger.spec.trial).toMatchObject({ license: first, licenseUid: active.metadata.uid, startedAt: active.status!.trialStartedAt });

    // The same name again: another License, so no second trial.
    await deleteLicense(first);
    await applyObjects(kc, [trialLicense(first, customer)], { fieldManager: 'test' });
    const again = await licenseState(first, trialUsed);
    expect(again.metadata.uid).not.toBe(active.metadata.uid);
    expect(again.status?.conditions?.find((c) => c.type === 'Valid')?.message).toContain(first);

    // Another name.
    const second = uniqueName('ldg-trial2');
    await applyObjects(kc, [trialLicense(second, customer)], { fieldManager: 'test' });
    await licenseState(second, trialUsed);

    // The Customer deleted (its status with it) and re-created: the Ledger still says no.
    await deleteLicense(first);
    await deleteLicense(second);
    await deleteCustomer(customer);
    await watchUntil(kc, `/apis/${GROUP}/${VERSION}/customers`, (all) => (all.some((c) => c.metadata?.name === customer) ? undefined : true));
    const third = uniqueName('ldg-trial3');
    await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} }, trialLicense(third, customer)], { fieldManager: 'test' });
    await licenseState(third, trialUsed);
    await watchUntilPasses<Ledger>(kc, LEDGER_PATH, (all) => {
      expect(all.find((l) => l.metadata.name === ledgerName(customer, app))?.spec.trial).toEqual(ledger.spec.trial);
    });
  });

  it('cannot be edited or deleted by anyone but the operator', async () => {
    const customer = uniqueName('ldg-prot');
    const lic = uniqueName('ldg-prot-trial');
    await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} }, trialLicense(lic, customer)], { fieldManager: 'test' });
    const ledger = await watchUntil<Ledger, Ledger>(kc, LEDGER_PATH, (all) => all.find((l) => l.metadata.name === ledgerName(customer, app) && l.spec.trial !== undefined));
    // Someone granted full RBAC on ledgers (not a cluster admin, not the operator): the protection policy still refuses.
    const editor = uniqueName('ledger-editor');
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: editor }, rules: [{ apiGroups: [GROUP], resources: ['ledgers'], verbs: ['*'] }] } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name: editor }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: editor }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: editor }] } });
    const asEditor = setHeaderOptions('Impersonate-User', editor);
    const erase = custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'ledgers', name: ledger.metadata.name, body: { spec: { trial: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch, asEditor),
    );
    expect(await erase.then(() => 'written', (e: unknown) => apiError(e).code)).toBe(403);
    const remove = custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: ledger.metadata.name }, asEditor);
    expect(await remove.then(() => 'deleted', (e: unknown) => apiError(e).code)).toBe(403);
  });
});
