/**
 * End to end, on a node that really runs pods: the operator installed from the chart with an
 * image built from our Dockerfile (2 replicas, leader election, webhook through its Service),
 * test application images in an authenticated registry, and pods that pull with the pull Secret
 * the operator writes and the default ServiceAccount hands out.
 *
 * The kubelet's image cache: once the node has an image, a pod with `imagePullPolicy:
 * IfNotPresent` starts from the cache without any credentials. Every pod here uses
 * `imagePullPolicy: Always`, so each start asks the registry with the pod's own credentials;
 * the kubelet's KubeletEnsureSecretPulledImages (alpha in 1.33) is not relied on.
 *
 * One file, run in order: each step builds on the cluster state the previous one left.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.js';
import { REPLICAS_ANNOTATION } from '../../src/enforcement/sweep.js';
import { applyObjects } from '../../src/kube/apply.js';
import { buildAndPush, testAppConfig } from '../../src/localcluster/images.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { helm } from '../helm-binary.js';
import { eventually, isNotFound } from '../integration/context.js';
import { operatorImage, repoRoot, startEnvironment, type E2eEnvironment } from './environment.js';

const OPERATOR_NAMESPACE = 'licensegate-system';
const RELEASE = 'licensegate';
const APP = 'e2e-app';
const CUSTOMER = 'e2e-acme';
const LICENSE = 'e2e-acme-app';
const VERSIONS = ['1.0.0', '1.1.0', '2.0.0'];
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const run = promisify(execFile);

let env: E2eEnvironment;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let appImage: string;
let helmHome: string;
let installed = false;
let stopped = false;
/** Printed at the end: what the issue asks to be measured. */
const figures: Record<string, string> = {};

const runHelm = (...args: string[]) =>
  helm([...args, '--kubeconfig', env.kubeconfig], {
    env: { HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') },
  });
const apply = (objects: Parameters<typeof applyObjects>[1]) => applyObjects(kc, objects, { fieldManager: 'e2e' });
const image = (version: string) => `${appImage}:${version}`;

async function patchLicense(spec: Record<string, unknown>) {
  await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: LICENSE, body: { spec } }, mergePatch);
}

async function pods(namespace: string, app: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

const running = (pod: V1Pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && pod.status.containerStatuses?.every((c) => c.ready);

/** Waits until exactly `count` pods of `app` run and are ready; returns them. */
async function expectRunning(namespace: string, app: string, count: number, timeoutMs = 90_000): Promise<V1Pod[]> {
  return eventually(async () => {
    const all = await pods(namespace, app);
    const up = all.filter(running);
    if (up.length !== count || all.length !== count) {
      throw new Error(`${app}: ${up.length}/${count} running; ${all.map((p) => `${p.metadata?.name}=${p.status?.phase}/${p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ''}`).join(' ')}`);
    }
    return up;
  }, timeoutMs, 250);
}

async function expectNoPods(namespace: string, app: string, timeoutMs = 90_000): Promise<void> {
  await eventually(async () => {
    const left = await pods(namespace, app);
    if (left.length > 0) throw new Error(`${app}: ${left.length} pods left`);
  }, timeoutMs, 250);
}

/** The HTTP status and body of a request the API server refused; fails if it was allowed. */
async function refused(request: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request();
  } catch (error) {
    if (error instanceof ApiException) {
      // The body is a Status object; its message is what kubectl would print.
      const body = String(error.body);
      const status = (() => {
        try {
          return JSON.parse(body) as { message?: string };
        } catch {
          return {};
        }
      })();
      return { code: error.code, message: status.message ?? body };
    }
    throw error;
  }
  throw new Error('the request was allowed');
}

function deployment(name: string, version: string, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: CUSTOMER },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      // What `kubectl create deployment` writes: no ServiceAccount, no imagePullSecrets.
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'app', image: image(version), imagePullPolicy: 'Always' }] },
      },
    },
  };
}

beforeAll(async () => {
  env = await startEnvironment();
  if (env.startSeconds !== undefined) figures['cluster:up --node (warm binaries)'] = `${env.startSeconds.toFixed(1)} s`;
  kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  helmHome = mkdtempSync(join(tmpdir(), 'licensegate-e2e-helm-'));

  const { registry } = env;
  appImage = `${registry.pullHost}/acme/app`;
  for (const version of VERSIONS) {
    await buildAndPush(`${registry.pushHost}/acme/app:${version}`, testAppConfig(version), registry);
  }
  const operator = await operatorImage(registry);
  if (operator.buildSeconds !== undefined) figures['operator image build (buildah, this run)'] = `${operator.buildSeconds.toFixed(1)} s`;
  if (operator.sizeBytes !== undefined) figures['operator image size'] = `${(operator.sizeBytes / 1e6).toFixed(0)} MB`;

  const dockerConfig = JSON.stringify({
    auths: { [registry.pullHost]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } },
  });
  await apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } },
    // The operator's own image comes from the same authenticated registry.
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'operator-pull', namespace: OPERATOR_NAMESPACE },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: { '.dockerconfigjson': dockerConfig },
    },
    // The vendor's registry credentials the operator turns into customer pull secrets.
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'app-registry', namespace: OPERATOR_NAMESPACE },
      type: 'kubernetes.io/basic-auth',
      stringData: { username: registry.username, password: registry.password },
    },
  ]);
  const [repository, tag] = [operator.reference.slice(0, operator.reference.lastIndexOf(':')), operator.reference.slice(operator.reference.lastIndexOf(':') + 1)];
  const started = performance.now();
  runHelm(
    'install', RELEASE, join(repoRoot, 'charts', 'licensegate'),
    '--namespace', OPERATOR_NAMESPACE,
    '--set', `image.repository=${repository}`,
    '--set', `image.tag=${tag}`,
    '--set', 'imagePullSecrets[0].name=operator-pull',
    '--set', 'webhook.enabled=true',
    '--wait', '--timeout', '5m',
  );
  installed = true;
  figures['helm install --wait (2 operator replicas ready)'] = `${((performance.now() - started) / 1000).toFixed(1)} s`;
}, 1_800_000);

afterAll(async () => {
  if (installed) {
    try {
      runHelm('uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait');
    } catch {
      // reported by the test that uninstalls
    }
  }
  if (env && !stopped) await env.stop();
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
  console.info(`e2e figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
}, 300_000);

describe('the operator from the chart', () => {
  it('runs 2 replicas from the image built from our Dockerfile, one of them leading', async () => {
    const list = (await core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: 'app.kubernetes.io/name=licensegate' })).items;
    expect(list.filter(running)).toHaveLength(2);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'licensegate-leader', namespace: OPERATOR_NAMESPACE });
    expect(list.map((p) => p.metadata?.name)).toContain(lease.spec?.holderIdentity);
  });
});

describe('a customer on the node', () => {
  beforeAll(async () => {
    await apply([
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name: APP },
        spec: {
          images: [appImage],
          versions: VERSIONS.map((version) => ({ version })),
          registry: { server: env.registry.pullHost, credentialsSecret: { namespace: OPERATOR_NAMESPACE, name: 'app-registry' } },
        },
      },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: CUSTOMER }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: LICENSE }, spec: { customer: CUSTOMER, application: APP, versions: ['1.0.0', '1.1.0'] } },
    ]);
    // The default ServiceAccount lists the pull secret: from here on, pods need not name it.
    await eventually(async () => {
      const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: CUSTOMER });
      expect(sa.imagePullSecrets?.map((r) => r.name)).toContain(pullSecretName(APP));
    }, 60_000);
  }, 120_000);

  it('runs a granted version, pulled with the pull secret the operator wrote (named by no one)', async () => {
    const started = performance.now();
    await apps.createNamespacedDeployment({ namespace: CUSTOMER, body: deployment('web', '1.0.0', 2) });
    const up = await expectRunning(CUSTOMER, 'web', 2);
    figures['pod start latency (Deployment create → 2 pods Running, granted version)'] = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    for (const pod of up) expect(pod.spec?.imagePullSecrets?.map((r) => r.name)).toEqual([pullSecretName(APP)]);
  });

  it('fails to pull the same image without the pull secret (401)', async () => {
    await apply([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'no-pull-secrets', namespace: CUSTOMER } }]);
    await core.createNamespacedPod({
      namespace: CUSTOMER,
      body: {
        metadata: { name: 'no-secret', labels: { app: 'no-secret' } },
        spec: { serviceAccountName: 'no-pull-secrets', containers: [{ name: 'app', image: image('1.0.0'), imagePullPolicy: 'Always' }] },
      },
    });
    await eventually(async () => {
      const pod = await core.readNamespacedPod({ name: 'no-secret', namespace: CUSTOMER });
      expect(pod.spec?.imagePullSecrets ?? []).toEqual([]);
      expect(['ErrImagePull', 'ImagePullBackOff']).toContain(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason);
    }, 60_000);
    await eventually(async () => {
      const events = await core.listNamespacedEvent({ namespace: CUSTOMER, fieldSelector: 'involvedObject.name=no-secret' });
      expect(events.items.map((e) => e.message).join('\n')).toContain('401 Unauthorized');
    });
    await core.deleteNamespacedPod({ name: 'no-secret', namespace: CUSTOMER, gracePeriodSeconds: 0 });
  });

  it('refuses an ungranted version at admission', async () => {
    const refusal = await refused(() => apps.createNamespacedDeployment({ namespace: CUSTOMER, body: deployment('ungranted', '2.0.0', 1) }));
    expect(refusal.code).toBeGreaterThanOrEqual(400);
    expect(refusal.message).toContain(`image ${image('2.0.0')} is not licensed for customer ${CUSTOMER}`);
  });

  it('scales a revoked version to 0 (its pods go), and restores the exact count when the revocation is lifted', async () => {
    await patchLicense({ revokedVersions: ['1.0.0'] });
    await eventually(async () => {
      const live = await apps.readNamespacedDeployment({ name: 'web', namespace: CUSTOMER });
      expect(live.spec?.replicas).toBe(0);
      expect(live.metadata?.annotations?.[REPLICAS_ANNOTATION]).toBe('2');
    }, 60_000);
    await expectNoPods(CUSTOMER, 'web');
    await patchLicense({ revokedVersions: null });
    await eventually(async () => expect((await apps.readNamespacedDeployment({ name: 'web', namespace: CUSTOMER })).spec?.replicas).toBe(2), 60_000);
    await expectRunning(CUSTOMER, 'web', 2);
  });

  it('keeps a StatefulSet\'s volume data through scale to 0 and back', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: CUSTOMER,
      body: {
        metadata: { name: 'db' },
        spec: {
          replicas: 1,
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: {
              terminationGracePeriodSeconds: 2,
              containers: [{ name: 'app', image: image('1.1.0'), imagePullPolicy: 'Always', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
            },
          },
          volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Mi' } } } }],
        },
      },
    });
    const [first] = await expectRunning(CUSTOMER, 'db', 1);
    const written = await eventually(async () => {
      const log = await core.readNamespacedPodLog({ name: first!.metadata!.name!, namespace: CUSTOMER });
      const line = /data: (.+)/.exec(log)?.[1];
      if (!line) throw new Error(`no data line yet in: ${log}`);
      return line;
    });
    expect(written).toMatch(/^1\.1\.0 \d+$/);

    await patchLicense({ revokedVersions: ['1.1.0'] });
    await eventually(async () => expect((await apps.readNamespacedStatefulSet({ name: 'db', namespace: CUSTOMER })).spec?.replicas).toBe(0), 60_000);
    await expectNoPods(CUSTOMER, 'db');
    // Enforcement never deletes data: the claim stays.
    expect((await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: CUSTOMER })).status?.phase).toBe('Bound');

    await patchLicense({ revokedVersions: null });
    const [again] = await expectRunning(CUSTOMER, 'db', 1);
    expect(again!.metadata?.uid).not.toBe(first!.metadata?.uid);
    const log = await eventually(async () => {
      const text = await core.readNamespacedPodLog({ name: again!.metadata!.name!, namespace: CUSTOMER });
      if (!text.includes('data: ')) throw new Error('no data line yet');
      return text;
    });
    expect(log).toContain(`data: ${written}`);
  });

  it('stops pods once the license has expired and its grace period passed, and brings them back on renewal', async () => {
    const graceSeconds = 5;
    const expiresAt = new Date(Date.now() + 6_000);
    // Whole seconds: the schema takes RFC 3339 without fractions.
    expiresAt.setMilliseconds(0);
    await patchLicense({ expiresAt: expiresAt.toISOString().replace('.000Z', 'Z'), gracePeriod: `${graceSeconds}s` });
    const enforceAt = expiresAt.getTime() + graceSeconds * 1000;
    // Until the grace period ends, the pods keep running.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, enforceAt - Date.now() - 1_000)));
    expect((await pods(CUSTOMER, 'web')).filter(running)).toHaveLength(2);
    await expectNoPods(CUSTOMER, 'web', 60_000);
    figures['sweep latency (expiry + grace → last pod gone)'] = `${((Date.now() - enforceAt) / 1000).toFixed(1)} s`;

    await patchLicense({ expiresAt: null, gracePeriod: null });
    await expectRunning(CUSTOMER, 'web', 2);
  });

  it('keeps refusing when the leading operator pod is deleted, and the other replica takes over within the lease', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const before = await leases.readNamespacedLease({ name: 'licensegate-leader', namespace: OPERATOR_NAMESPACE });
    const leader = before.spec!.holderIdentity!;
    const leaseSeconds = before.spec!.leaseDurationSeconds!;
    const started = performance.now();
    await core.deleteNamespacedPod({ name: leader, namespace: OPERATOR_NAMESPACE });
    // Admission is in the API server (ValidatingAdmissionPolicy): no gap while no one leads.
    const refusal = await refused(() => apps.createNamespacedDeployment({ namespace: CUSTOMER, body: deployment('ungranted', '2.0.0', 1), dryRun: 'All' }));
    expect(refusal.message).toContain('is not licensed');
    const next = await eventually(async () => {
      const lease = await leases.readNamespacedLease({ name: 'licensegate-leader', namespace: OPERATOR_NAMESPACE });
      const holder = lease.spec?.holderIdentity;
      if (!holder || holder === leader) throw new Error(`still held by ${holder}`);
      return holder;
    }, (leaseSeconds + 10) * 1000);
    const seconds = (performance.now() - started) / 1000;
    figures['leader pod deleted → other replica leads'] = `${seconds.toFixed(1)} s (lease ${leaseSeconds} s)`;
    expect(seconds).toBeLessThan(leaseSeconds + 5);
    expect(next).not.toBe(leader);

    // The new leader enforces: a revocation scales to 0, and the webhook (through its Service)
    // refuses a scale-up through /scale, which carries no image for the policy to check.
    await patchLicense({ revokedVersions: ['1.0.0'] });
    await eventually(async () => expect((await apps.readNamespacedDeployment({ name: 'web', namespace: CUSTOMER })).spec?.replicas).toBe(0), 60_000);
    const scale = await eventually(() =>
      refused(() => apps.patchNamespacedDeploymentScale({ name: 'web', namespace: CUSTOMER, body: { spec: { replicas: 3 } } }, mergePatch)),
    );
    expect(scale.message).toContain('admission webhook "scale.licensegate.dev" denied the request');
    await patchLicense({ revokedVersions: null });
    await expectRunning(CUSTOMER, 'web', 2);
    // The deleted pod is replaced: two replicas again.
    await eventually(async () => {
      const list = (await core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: 'app.kubernetes.io/name=licensegate' })).items;
      expect(list.filter(running)).toHaveLength(2);
    }, 120_000);
  });
});

describe('one node per machine', () => {
  it('refuses a second cluster:up --node and leaves the running node intact', async () => {
    if (process.env['LICENSEGATE_TEST_USE_KUBECONFIG'] === '1') return;
    const stateDir = mkdtempSync(join(tmpdir(), 'licensegate-e2e-second-'));
    try {
      const second = await run(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['src/localcluster/cli.ts', 'up', '--node'], {
        cwd: repoRoot,
        env: { ...process.env, LICENSEGATE_STATE_DIR: stateDir },
      }).then(
        () => expect.fail('a second node started'),
        (error: { stderr?: string }) => error.stderr ?? '',
      );
      expect(second).toContain('a licensegate node already runs on this machine');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
    // Its chains and pods are untouched: a Service still reaches the pods through kube-proxy.
    const web = await core.createNamespacedService({
      namespace: CUSTOMER,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 8080, targetPort: 8080 }] } },
    });
    await expectRunning(CUSTOMER, 'web', 2);
    const body = await eventually(async () => {
      // A new connection per attempt. Before kube-proxy has written the Service's rules, a
      // connection to the ClusterIP leaves the machine, and the CI sandbox answers it itself
      // (an empty 404 from "keryx"); a kept-alive connection would keep talking to that proxy
      // after the rules are in (how this failed three times in CI).
      const agent = new Agent({ pipelining: 0 });
      try {
        const response = await request(`http://${web.spec!.clusterIP}:8080/`, { dispatcher: agent, signal: AbortSignal.timeout(2_000) });
        const text = (await response.body.text()).trim();
        // busybox httpd always sends a body: an empty one is not the pod's.
        if (text === '') throw new Error(`empty answer from the Service (HTTP ${response.statusCode}, server ${response.headers['server']})`);
        return text;
      } finally {
        await agent.close();
      }
    });
    expect(body).toBe('1.0.0');
  });
});

describe('helm uninstall', () => {
  it('removes the operator, its policies and webhook; customer namespaces are released, not deleted', async () => {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: CUSTOMER });
    await eventually(async () => {
      const error = await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: CUSTOMER }).then(() => undefined, (e: unknown) => e);
      expect(isNotFound(error)).toBe(true);
    }, 60_000);
    runHelm('uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait');
    installed = false;
    await eventually(async () => {
      const left = (await core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: 'app.kubernetes.io/name=licensegate' })).items;
      expect(left).toEqual([]);
    }, 60_000);
    const admission = await import('@kubernetes/client-node').then((m) => kc.makeApiClient(m.AdmissionregistrationV1Api));
    expect((await admission.listValidatingAdmissionPolicy()).items.filter((p) => p.metadata?.name?.startsWith('licensegate'))).toEqual([]);
    expect((await admission.listValidatingWebhookConfiguration()).items.filter((w) => w.metadata?.name === 'licensegate')).toEqual([]);
    // The customer's workloads and data are untouched.
    await core.readNamespace({ name: CUSTOMER });
    await expectRunning(CUSTOMER, 'web', 2);
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: CUSTOMER });
    expect(sa.imagePullSecrets ?? []).toEqual([]);
  });
});

describe('cluster:down', () => {
  it('leaves no process, mount, interface, iptables chain, CNI result or volume directory of the node behind', async () => {
    if (process.env['LICENSEGATE_TEST_USE_KUBECONFIG'] === '1') return;
    // The host-path provisioner's directories live outside the cluster's temp dir.
    const volumes = (await core.listPersistentVolume()).items.map((pv) => pv.spec?.hostPath?.path).filter((p): p is string => Boolean(p));
    expect(volumes.length).toBeGreaterThan(0);
    stopped = true;
    const started = performance.now();
    const left = await env.stop();
    for (const path of volumes) if (existsSync(path)) left.push(`volume directory ${path}`);
    figures['cluster:down'] = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    expect(left).toEqual([]);
  });
});
