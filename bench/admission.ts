/**
 * Admission benchmark (not a test): how much latency the ValidatingAdmissionPolicy and the
 * webhook add to workload creates, and how soon after expiresAt creates are refused.
 *
 *   npm run bench:admission [-- --creates 1000]
 *
 * Starts its own local control plane; creates Pods one at a time (no kubelet runs, so they
 * are only stored) in a namespace no policy matches and in a customer namespace, alternating
 * batches so both see the same machine load.
 */
import { parseArgs } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { API_VERSION } from '../src/api/index.js';
import { loadConfig } from '../src/config.js';
import { renderAdmissionBindings, renderAdmissionObjects } from '../src/enforcement/policy.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_PATH } from '../src/enforcement/webhook-config.js';
import { applyObjects } from '../src/kube/apply.js';
import { installCrds } from '../src/kube/crds.js';
import { freePort, startLocalCluster } from '../src/localcluster/index.js';
import { Operator } from '../src/operator.js';

const { values } = parseArgs({ options: { creates: { type: 'string', default: '1000' }, batch: { type: 'string', default: '100' } } });
const CREATES = Number(values.creates);
const BATCH = Number(values.batch);
const REPO = 'registry.bench.example/acme/api';
const log = pino({ level: 'warn' });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `${name.padEnd(26)} n=${String(s.length).padStart(5)}  p50=${percentile(s, 50).toFixed(2).padStart(7)} ms  p90=${percentile(s, 90).toFixed(2).padStart(7)} ms  p99=${percentile(s, 99).toFixed(2).padStart(7)} ms  max=${s.at(-1)!.toFixed(2).padStart(7)} ms  mean=${mean.toFixed(2)} ms`;
}

const pod = (name: string, tag: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: `${REPO}:${tag}` }] } });

/**
 * Every create runs as an impersonated user (in system:masters, so RBAC passes): the operator
 * runs as the admin user here, and the webhook exempts the operator's identity.
 */
const asBench = setHeaderOptions('Impersonate-User', 'bench', setHeaderOptions('Impersonate-Group', 'system:masters'));

async function timedCreates(core: CoreV1Api, namespace: string, prefix: string, count: number, offset: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await core.createNamespacedPod({ namespace, body: pod(`${prefix}-${offset + i}`, '1.0.0') }, asBench);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** Alternates batches between the two namespaces so both share the machine's state. */
async function compare(core: CoreV1Api, baselineNs: string, testedNs: string, prefix: string) {
  const baseline: number[] = [];
  const tested: number[] = [];
  for (let done = 0; done < CREATES; done += BATCH) {
    const n = Math.min(BATCH, CREATES - done);
    baseline.push(...(await timedCreates(core, baselineNs, `${prefix}-base`, n, done)));
    tested.push(...(await timedCreates(core, testedNs, `${prefix}-gated`, n, done)));
  }
  return { baseline, tested };
}


async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A license expiring in 3 s, a create attempted every 20 ms: how long after expiresAt is the first refused? */
async function refusalAfterExpiry(kc: KubeConfig, core: CoreV1Api): Promise<number> {
  const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
  await applyObjects(kc, [
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'bench-expiry' }, spec: { images: ['registry.bench.example/acme/expiring'], versions: [{ version: '1.0.0' }] } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: 'bench-expiry' }, spec: {} },
    { apiVersion: API_VERSION, kind: 'License', metadata: { name: 'bench-expiry' }, spec: { customer: 'bench-expiry', application: 'bench-expiry', versions: ['1.0.0'], expiresAt: expiresAt.toISOString().replace('.000Z', 'Z') } },
  ]);
  const attempt = () =>
    core
      .createNamespacedPod({ namespace: 'bench-expiry', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'registry.bench.example/acme/expiring:1.0.0' }] } }, dryRun: 'All' }, asBench)
      .then(() => true, () => false);
  await until(attempt);
  await until(async () => !(await attempt()), 20_000);
  return Date.now() - expiresAt.getTime();
}

async function main() {
  console.log(`licensegate admission benchmark: ${CREATES} creates per configuration, batches of ${BATCH}`);
  const cluster = await startLocalCluster();
  const operators: Operator[] = [];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await installCrds(kc);
    // The operator keeps the customer namespace 'gated' and its VersionPolicy, as in production.
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'bench' }, spec: { images: [REPO], versions: [{ version: '1.0.0' }] } },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: 'bench' }, spec: { namespaces: ['gated'] } },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: 'bench' }, spec: { customer: 'bench', application: 'bench', versions: ['1.0.0'] } },
      ...renderAdmissionObjects({ exemptUsernames: ['nobody'] }),
    ]);
    const reconciler = new Operator({ kc, log, config: loadConfig({ LICENSEGATE_LEADER_ELECTION: 'false', LICENSEGATE_HTTP_PORT: '0' }) });
    operators.push(reconciler);
    await reconciler.start();
    await until(async () => core.createNamespacedPod({ namespace: 'gated', body: pod('probe', '1.0.0'), dryRun: 'All' }, asBench).then(() => true, () => false));
    await until(async () => core.createNamespacedPod({ namespace: 'gated', body: pod('probe', '9.9.9'), dryRun: 'All' }, asBench).then(() => false, () => true));
    // Warm up connections and caches.
    await timedCreates(core, 'plain', 'warm', 50, 0);
    await timedCreates(core, 'gated', 'warm', 50, 0);

    const vap = await compare(core, 'plain', 'gated', 'vap');
    const expiryMs = await refusalAfterExpiry(kc, core);
    await reconciler.stop();

    // Webhook engine: the policy's bindings go, the operator's webhook answers instead.
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    for (const b of renderAdmissionBindings()) await admission.deleteValidatingAdmissionPolicyBinding({ name: b.metadata.name });
    const port = await freePort();
    const operator = new Operator({
      kc,
      log,
      config: loadConfig({
        LICENSEGATE_LEADER_ELECTION: 'false',
        LICENSEGATE_HTTP_PORT: '0',
        LICENSEGATE_WEBHOOK: 'true',
        LICENSEGATE_ADMISSION_ENGINE: 'webhook',
        LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
        LICENSEGATE_WEBHOOK_PORT: String(port),
        LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
        LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${port}${WEBHOOK_PATH}`,
      }),
    });
    operators.push(operator);
    await operator.start();
    await until(async () => admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).then(() => true, () => false));
    await until(async () => core.createNamespacedPod({ namespace: 'gated', body: pod('probe', '9.9.9'), dryRun: 'All' }, asBench).then(() => false, () => true));
    const webhook = await compare(core, 'plain', 'gated', 'wh');

    console.log('\nPod create latency, sequential, one client:');
    console.log(summary('no policy (VAP phase)', vap.baseline));
    console.log(summary('admission policy (CEL)', vap.tested));
    console.log(summary('no policy (webhook phase)', webhook.baseline));
    console.log(summary('webhook', webhook.tested));
    const p = (xs: number[], q: number) => percentile([...xs].sort((a, b) => a - b), q);
    console.log(`\nadded by the admission policy: p50 ${(p(vap.tested, 50) - p(vap.baseline, 50)).toFixed(2)} ms, p99 ${(p(vap.tested, 99) - p(vap.baseline, 99)).toFixed(2)} ms`);
    console.log(`first refused create after expiresAt: ${expiryMs.toFixed(0)} ms (operator requeues at the transition, writes the empty grant; the API server's param informer picks it up)`);
    console.log(`added by the webhook:          p50 ${(p(webhook.tested, 50) - p(webhook.baseline, 50)).toFixed(2)} ms, p99 ${(p(webhook.tested, 99) - p(webhook.baseline, 99)).toFixed(2)} ms`);
  } finally {
    for (const o of operators) await o.stop();
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
