/**
 * Online activation across control planes: the vendor's cluster (Licenses, activation records,
 * the activation server) and customer clusters (the operator, `licensegate activate --key`).
 * The customer cluster is the suite's shared one; the vendor's and a second customer's are
 * started here. The attacker is a customer reusing one key on a second cluster, or collecting
 * trials.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type Customer, type License } from '../../src/api/index.js';
import { ActivationService } from '../../src/activation/service.js';
import { ACTIVATION_PATH, serveActivation, type ActivationServer } from '../../src/activation/server.js';
import { ExitCode } from '../../src/cli/errors.js';
import { readPrivateKey } from '../../src/keys.js';
import { applyObjects } from '../../src/kube/apply.js';
import { issueBundle } from '../../src/kube/certs.js';
import { installCrds } from '../../src/kube/crds.js';
import { ActivationReason } from '../../src/licensing/activation.js';
import { startLocalCluster, type LocalCluster } from '../../src/localcluster/index.js';
import type { Operator } from '../../src/operator.js';
import { runCli } from '../cli-process.js';
import { eventually, kubeConfig, uniqueName } from './context.js';
import { startOperator, testLog, watchUntilPasses } from './operator-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'licensegate-activation-'));
const customerKc = kubeConfig();
const customerEnv = { KUBECONFIG: inject('kubeconfig') };

const customer = uniqueName('onprem');
const app = uniqueName('onprem-app');
const trialApp = uniqueName('onprem-trial-app');
const commercial = uniqueName('onprem-prod');
const trial1 = uniqueName('onprem-trial-1');
const trial2 = uniqueName('onprem-trial-2');

let vendor: LocalCluster;
let second: LocalCluster;
let vendorEnv: Record<string, string>;
let server: ActivationServer;
let operator: Operator;
let vendorOperator: Operator;
let now = new Date('2026-12-02T09:00:00Z');

const uid = async (kc: KubeConfig) => (await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata!.uid!;
const fromFile = (path: string) => {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
};
const license = (name: string, application: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: API_VERSION,
  kind: 'License',
  metadata: { name },
  spec: { customer, application, versions: ['1.0.0'], ...extra },
});
const key = async (name: string, ...args: string[]) => {
  const result = await runCli(['activation-key', name, ...args], { env: vendorEnv });
  return { ...result, key: result.stdout.trim() };
};
const post = async (body: unknown) => {
  const response = await fetch(new URL(ACTIVATION_PATH, server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { license?: License; reason?: string; message?: string } };
};
const claims = (l: License) => JSON.parse(Buffer.from(l.spec.signature!.split('.')[1]!, 'base64url').toString()) as { cluster: string; license: string };

beforeAll(async () => {
  [vendor, second] = await Promise.all([startLocalCluster({ controllerManager: false }), startLocalCluster({ controllerManager: false })]);
  vendorEnv = { KUBECONFIG: vendor.kubeconfigPath };
  const vendorKc = fromFile(vendor.kubeconfigPath);
  await Promise.all([installCrds(vendorKc), installCrds(fromFile(second.kubeconfigPath))]);
  const keygen = await runCli(['keygen', '--out', join(dir, 'keys')]);
  expect(keygen.code, keygen.stderr).toBe(0);
  await applyObjects(vendorKc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    license(commercial, app, { expiresAt: '2027-12-31T00:00:00Z' }),
    license(trial1, trialApp, { type: 'Trial', trialDays: 30 }),
    license(trial2, trialApp, { type: 'Trial', trialDays: 30 }),
  ], { fieldManager: 'vendor' });
  // The vendor's own operator keeps the on-premises customer's Licenses, and creates nothing for it.
  await applyObjects(vendorKc, [
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { onPremises: true } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.test.example/${app}/server`], versions: [{ version: '1.0.0' }] } },
  ], { fieldManager: 'vendor' });
  vendorOperator = await startOperator(vendorKc);
  const service = new ActivationService(vendorKc, { namespace: 'licensegate-system', signingKey: readPrivateKey(join(dir, 'keys', 'vendor.key')), clock: () => now });
  server = await serveActivation({ service, host: '127.0.0.1', port: 0, log: testLog });

  // The customer's cluster: the vendor's Application and Customer came with the product; the operator trusts vendor.pub.
  await applyObjects(customerKc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.test.example/${app}/server`], versions: [{ version: '1.0.0' }] } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: trialApp }, spec: { images: [`registry.test.example/${trialApp}/server`], versions: [{ version: '1.0.0' }] } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
  ], { fieldManager: 'test' });
  operator = await startOperator(customerKc, { LICENSEGATE_SIGNING_PUBLIC_KEYS: join(dir, 'keys', 'vendor.pub'), LICENSEGATE_SIGNING_REQUIRED: 'true' });
}, 240_000);

afterAll(async () => {
  await operator?.stop();
  await vendorOperator?.stop();
  await server?.close();
  await Promise.all([vendor?.stop(), second?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('an activation key', () => {
  let activationKey: string;

  it('is made on first use and printed the same afterwards', async () => {
    const first = await key(commercial);
    expect(first.code, first.stderr).toBe(0);
    expect(first.key).toMatch(/^lgk_[A-Za-z0-9_-]{27}$/);
    expect((await key(commercial)).key).toBe(first.key);
    activationKey = first.key;
  });

  it('activates the customer cluster: the License arrives bound to it and is Active', async () => {
    const result = await runCli(['activate', '--key', activationKey, '--server', server.url], { env: customerEnv });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`license ${commercial}: Active`);
    const applied = (await customerKc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: commercial })) as License;
    expect(claims(applied)).toMatchObject({ license: commercial, cluster: await uid(customerKc) });
  });

  it('activating the same cluster again is fine (the file can be fetched again)', async () => {
    expect((await post({ key: activationKey, clusterId: await uid(customerKc) })).status).toBe(200);
  });

  it('is refused on a second customer cluster: already activated, regenerate the key; nothing is applied there', async () => {
    const result = await runCli(['activate', '--key', activationKey, '--server', server.url], { env: { KUBECONFIG: second.kubeconfigPath } });
    expect(result.code).toBe(ExitCode.Failure);
    expect(result.stderr.trim()).toMatch(/^licensegate: activation refused: AlreadyActivated: .*already activated.*regenerate/);
    // A fresh API server may answer 429 while it sets up the CRD's handlers: retry the read.
    const there = (await eventually(() => fromFile(second.kubeconfigPath).makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses' }))) as { items: License[] };
    expect(there.items).toEqual([]);
  });

  it('regeneration: allowed, refused again within 30 days, allowed after; the old key stops working and the new one activates another cluster', async () => {
    const at = '2026-12-02T10:00:00Z';
    const regenerated = await key(commercial, '--regenerate', '--now', at);
    expect(regenerated.code, regenerated.stderr).toBe(0);
    expect(regenerated.key).not.toBe(activationKey);

    const again = await key(commercial, '--regenerate', '--now', '2026-12-31T10:00:00Z');
    expect(again.code).toBe(ExitCode.Failure);
    expect(again.stderr.trim()).toMatch(/^licensegate: RegeneratedRecently: .*regenerated at 2026-12-02T10:00:00Z.*once per 30 days/);
    expect((await key(commercial)).key).toBe(regenerated.key);

    expect(await post({ key: activationKey, clusterId: await uid(customerKc) })).toMatchObject({ status: 404, body: { reason: ActivationReason.UnknownActivationKey } });
    const secondId = await uid(fromFile(second.kubeconfigPath));
    const moved = await post({ key: regenerated.key, clusterId: secondId });
    expect(moved.status).toBe(200);
    expect(claims(moved.body.license!)).toMatchObject({ cluster: secondId });

    const later = await key(commercial, '--regenerate', '--now', '2027-01-01T10:00:00Z');
    expect(later.code, later.stderr).toBe(0);
  });
});

describe('trials', () => {
  it('a Trial activates once per cluster: a second trial license of the application is refused there', async () => {
    const first = await runCli(['activate', '--key', (await key(trial1)).key, '--server', server.url], { env: customerEnv });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`license ${trial1}: Active`);

    const secondTrial = await runCli(['activate', '--key', (await key(trial2)).key, '--server', server.url], { env: customerEnv });
    expect(secondTrial.code).toBe(ExitCode.Failure);
    expect(secondTrial.stderr).toContain(ActivationReason.TrialAlreadyUsed);
  });

  it('a trial key is one cluster\'s too: another cluster is refused as already activated', async () => {
    const result = await post({ key: (await key(trial1)).key, clusterId: await uid(fromFile(second.kubeconfigPath)) });
    expect(result).toMatchObject({ status: 409, body: { reason: ActivationReason.AlreadyActivated } });
  });
});

describe('the vendor\'s cluster', () => {
  it('keeps an on-premises customer\'s License judged there, and creates no namespace for it', async () => {
    const vendorKc = fromFile(vendor.kubeconfigPath);
    await watchUntilPasses<License>(vendorKc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      expect(all.find((l) => l.metadata.name === commercial)?.status?.phase).toBe('Active');
    });
    await watchUntilPasses<Customer>(vendorKc, `/apis/${GROUP}/${VERSION}/customers`, (all) => {
      expect(all.find((c) => c.metadata.name === customer)?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('OnPremises');
    });
    const namespaces = await vendorKc.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).not.toContain(customer);
  });

  it('an on-premises customer cannot also list namespaces (the API server refuses it)', async () => {
    const vendorKc = fromFile(vendor.kubeconfigPath);
    await expect(
      applyObjects(vendorKc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: uniqueName('both') }, spec: { onPremises: true, namespaces: ['x'] } }], { fieldManager: 'vendor' }),
    ).rejects.toThrow(/an on-premises customer has no namespaces in this cluster/);
  });
});

describe('bad requests', () => {
  it('get one clear answer', async () => {
    expect(await post({ nonsense: true })).toMatchObject({ status: 400, body: { reason: ActivationReason.BadRequest } });
    expect(await post({ key: 'lgk_unknown', clusterId: 'x' })).toMatchObject({ status: 404, body: { reason: ActivationReason.UnknownActivationKey } });
  });

  it('over HTTPS: a vendor CA the machine trusts reaches the server; an untrusted one is named as such', async () => {
    const bundle = await issueBundle({ hosts: ['localhost'], now: new Date() });
    writeFileSync(join(dir, 'ca.pem'), bundle.caCert);
    const service = new ActivationService(fromFile(vendor.kubeconfigPath), { namespace: 'licensegate-system', signingKey: readPrivateKey(join(dir, 'keys', 'vendor.key')), clock: () => now });
    const tls = await serveActivation({ service, host: '127.0.0.1', port: 0, tls: { cert: bundle.cert, key: bundle.key }, log: testLog });
    try {
      const url = tls.url.replace('127.0.0.1', 'localhost');
      const trusted = await runCli(['activate', '--key', 'lgk_unknown', '--server', url], { env: { ...customerEnv, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') } });
      expect(trusted.code).toBe(ExitCode.Failure);
      expect(trusted.stderr).toContain(ActivationReason.UnknownActivationKey);
      const untrusted = await runCli(['activate', '--key', 'lgk_unknown', '--server', url], { env: customerEnv });
      expect(untrusted.code).toBe(ExitCode.Unavailable);
      expect(untrusted.stderr.trim()).toMatch(/certificate this machine does not trust.*NODE_EXTRA_CA_CERTS/);
    } finally {
      await tls.close();
    }
  });

  it('a server that does not answer: one line, exit 3', async () => {
    const result = await runCli(['activate', '--key', 'lgk_x', '--server', 'http://127.0.0.1:1'], { env: customerEnv });
    expect(result.code).toBe(ExitCode.Unavailable);
    expect(result.stderr.trim()).toMatch(/^licensegate: the activation server http:\/\/127\.0\.0\.1:1 did not answer/);
  });
});
