/**
 * Webhook mode: the operator serves the admission webhook (its certificate issued by itself),
 * the ValidatingAdmissionPolicy's version check is off, and the same admission suite passes.
 * Plus what only the webhook can check: scale-ups through the /scale subresource.
 */
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type VersionPolicy } from '../../src/api/index.js';
import { renderAdmissionBindings } from '../../src/enforcement/policy.js';
import { renderWebhookConfiguration, WEBHOOK_CONFIGURATION_NAME, WEBHOOK_PATH } from '../../src/enforcement/webhook-config.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import type { Operator } from '../../src/operator.js';
import { freePort } from '../../src/localcluster/index.js';
import { WEBHOOK_TLS_SECRET } from '../../src/reconcile/webhook.js';
import { FaultProxy } from './faultproxy.js';
import { deploymentWith, installAdmissionPolicy, serverVerdict, untilAdmission } from './admission-harness.js';
import { admissionSuite, testApplication } from './admission-suite.js';
import { isNotFound, kubeConfig, uniqueName } from './context.js';
import { operatorKubeConfig, startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const app = uniqueName('wh-app');
let operator: Operator | undefined;
let webhookPort = 0;


async function startWebhookOperator(): Promise<Operator> {
  // As its own ServiceAccount: the webhook exempts the operator, and the tests run as admin.
  return startOperator(await operatorKubeConfig(kc), {
    LICENSEGATE_WEBHOOK: 'true',
    LICENSEGATE_ADMISSION_ENGINE: 'webhook',
    LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
    LICENSEGATE_WEBHOOK_PORT: String(webhookPort),
    LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
    LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`,
  });
}

beforeAll(async () => {
  webhookPort = await freePort();
  // Only the webhook checks versions here: remove the policy's bindings.
  for (const binding of renderAdmissionBindings()) {
    await admission.deleteValidatingAdmissionPolicyBinding({ name: binding.metadata.name }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
  await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }, testApplication(app).object], { fieldManager: 'test' });
  operator = await startWebhookOperator();
  // The leader issues the certificate; every replica then serves with it.
  await untilAdmission(async () => operator!.webhookPort !== undefined);
});

afterAll(async () => {
  await operator?.stop();
  // Leave the cluster as the other suites expect it: no webhook pointing at a stopped process, the policy bound again.
  await admission.deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
  await installAdmissionPolicy(kc);
});

admissionSuite({
  engine: 'webhook',
  app: () => app,
  stopOperator: async () => {
    await operator?.stop();
    operator = undefined;
  },
  restartOperator: async () => {
    operator = await startWebhookOperator();
    await untilAdmission(async () => operator!.webhookPort !== undefined);
  },
});

describe('webhook', () => {
  it('issued its own certificate into a TLS Secret and put the CA into the webhook configuration', async () => {
    const config = await admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
    expect(config.webhooks?.map((w) => w.name).sort()).toEqual(['limits-open.licensegate.dev', 'limits.licensegate.dev', 'scale.licensegate.dev', 'workloads.licensegate.dev']);
    for (const w of config.webhooks ?? []) {
      // Customers who chose FailOpen for their limits get the one webhook that ignores failures.
      expect(w.failurePolicy).toBe(w.name === 'limits-open.licensegate.dev' ? 'Ignore' : 'Fail');
      expect(w.timeoutSeconds).toBeLessThanOrEqual(5);
      expect(Buffer.from(w.clientConfig.caBundle!, 'base64').toString()).toContain('BEGIN CERTIFICATE');
    }
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: WEBHOOK_TLS_SECRET, namespace: 'licensegate-system' });
    expect(secret.type).toBe('kubernetes.io/tls');
  });

  it('refuses scaling up an out-of-license Deployment through the /scale subresource', async () => {
    const customer = uniqueName('wh-scale');
    const license = uniqueName('wh-scale-lic');
    const repo = testApplication(app).repo;
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { enforcement: { onViolation: 'None' } } },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<VersionPolicy>(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, (all) => {
      expect(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0']);
    });
    await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(customer, 'probe', [`${repo}:1.0.0`]))).allowed);
    await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'api', [`${repo}:1.0.0`], 1) as V1Deployment });
    const scale = (replicas: number, dryRun?: 'All') =>
      apps
        .patchNamespacedDeploymentScale({ name: 'api', namespace: customer, body: { spec: { replicas } }, dryRun }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        .then(() => '', (e: unknown) => apiError(e).message);
    expect(await scale(2)).toBe('');

    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { suspended: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await untilAdmission(async () => (await scale(3, 'All')) !== '');
    expect(await scale(4)).toContain('may not be scaled up');
    // Scaling down stays allowed.
    expect(await scale(1)).toBe('');
  });
});

describe('a /scale request whose parent the webhook has not seen (defect 4)', () => {
  it('is refused, not allowed by default', async () => {
    // The operator's watches go through a proxy that then swallows everything: its cache stops
    // moving while the API server keeps calling its webhook directly.
    await operator?.stop();
    const { proxy, kc: proxied } = await FaultProxy.start(await operatorKubeConfig(kc));
    operator = await startOperator(proxied, {
      LICENSEGATE_WEBHOOK: 'true',
      LICENSEGATE_ADMISSION_ENGINE: 'webhook',
      LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
      LICENSEGATE_WEBHOOK_PORT: String(webhookPort),
      LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
      LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`,
    });
    try {
      const customer = uniqueName('wh-ghost');
      const repo = testApplication(app).repo;
      await applyObjects(kc, [
        { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { enforcement: { onViolation: 'None' } } },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('wh-ghost-lic') }, spec: { customer, application: app, versions: ['1.0.0'] } },
      ], { fieldManager: 'test' });
      await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(customer, 'probe', [`${repo}:1.0.0`]))).allowed);
      proxy.blackhole();
      // Made by the operator's own identity, which the webhook exempts: an unlicensed Deployment at
      // zero replicas that the (now deaf) operator never sees.
      const asOperator = setHeaderOptions('Impersonate-User', 'system:serviceaccount:licensegate-system:licensegate');
      await apps.createNamespacedDeployment({ namespace: customer, body: deploymentWith(customer, 'ghost', [`${repo}:2.0.0`], 0) as V1Deployment }, asOperator);
      const message = await apps
        .patchNamespacedDeploymentScale({ name: 'ghost', namespace: customer, body: { spec: { replicas: 3 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        .then(() => '', (e: unknown) => apiError(e).message);
      expect(message).toContain("not in the webhook's cache");
      expect((await apps.readNamespacedDeployment({ name: 'ghost', namespace: customer })).spec?.replicas).toBe(0);
    } finally {
      proxy.heal();
      await operator?.stop();
      await proxy.close();
      operator = await startWebhookOperator();
      await untilAdmission(async () => operator!.webhookPort !== undefined);
    }
  });
});

describe('a webhook configuration shipped by someone else (the Helm chart)', () => {
  // Stops one operator and starts another: more than the default minute on a loaded machine.
  it('gets its caBundle filled in and nothing else changed', { timeout: 180_000 }, async () => {
    await operator?.stop();
    const shipped = renderWebhookConfiguration({
      engine: 'webhook',
      clientConfig: { url: `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}` },
      caBundle: '',
      exemptUsernames: ['system:serviceaccount:licensegate-system:licensegate'],
    });
    for (const w of shipped.webhooks) delete (w.clientConfig as { caBundle?: string }).caBundle;
    await admission.deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
    await applyObjects(kc, [shipped], { fieldManager: 'helm' });
    operator = await startOperator(await operatorKubeConfig(kc), {
      LICENSEGATE_WEBHOOK: 'true',
      LICENSEGATE_ADMISSION_ENGINE: 'webhook',
      LICENSEGATE_WEBHOOK_PORT: String(webhookPort),
      LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
      LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`,
    });
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: WEBHOOK_TLS_SECRET, namespace: 'licensegate-system' });
    const ca = secret.data!['ca.crt']!;
    await untilAdmission(async () => {
      const config = await admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
      return (config.webhooks ?? []).every((w) => w.clientConfig.caBundle === ca);
    });
    const config = await admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
    expect(config.webhooks?.map((w) => w.clientConfig.url)).toEqual(shipped.webhooks.map((w) => (w.clientConfig as { url: string }).url));
  });
});
