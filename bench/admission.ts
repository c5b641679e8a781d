/**
 * Admission benchmark (not a test): how much latency the ValidatingAdmissionPolicy and the
 * webhook add to workload creates, and how soon after expiresAt creates are refused.
 *
 *   npm run bench:admission [-- --creates 1000] [-- --kyverno]
 *
 * Starts its own local control plane; creates Pods one at a time (no kubelet runs, so they
 * are only stored) in a namespace no policy matches and in a customer namespace, alternating
 * batches so both see the same machine load. One kept-alive client for every configuration.
 * With --kyverno, Kyverno's admission controller (built once from Go modules, cached; see
 * bench/kyverno/) then gets the same creates against an equivalent ClusterPolicy (pattern) and
 * ValidatingPolicy (CEL), and one table compares all of them.
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
import { reuseConnections } from '../src/kube/connections.js';
import { KYVERNO_VERSION, kyvernoPolicies, startKyverno } from './kyverno/kyverno.js';
import { table } from './lib/stats.js';
import { join } from 'node:path';
import { buildOperator, OperatorProcess } from './lib/operator-process.js';

const REPO_ROOT = join(import.meta.dirname, '..');
import { Operator } from '../src/operator.js';

const { values } = parseArgs({
  options: { creates: { type: 'string', default: '1000' }, batch: { type: 'string', default: '10' }, kyverno: { type: 'boolean', default: false } },
});
const CREATES = Number(values.creates);
const BATCH = Number(values.batch);
const REPO = 'registry.bench.example/acme/api';
const log = pino({ level: 'warn' });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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

/** Alternates batches between the namespaces (the first is the baseline) so all share the machine's state. */
async function compare(core: CoreV1Api, namespaces: string[], prefix: string): Promise<number[][]> {
  const samples = namespaces.map(() => [] as number[]);
  for (let done = 0; done < CREATES; done += BATCH) {
    const n = Math.min(BATCH, CREATES - done);
    for (const [i, ns] of namespaces.entries()) samples[i]!.push(...(await timedCreates(core, ns, `${prefix}-${i}`, n, done)));
  }
  return samples;
}

/** One row per configuration: its latency and what it adds over the baseline measured beside it. */
function resultTable(rows: { name: string; samples: number[]; baseline: number[] }[]): string {
  const p = (xs: number[], q: number) => percentile([...xs].sort((a, b) => a - b), q);
  const f = (x: number) => `${x.toFixed(2)} ms`;
  const added = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} ms`;
  return table([
    ['Pod create', 'n', 'p50', 'p99', 'added p50', 'added p99'],
    ...rows.map((r) => [r.name, String(r.samples.length), f(p(r.samples, 50)), f(p(r.samples, 99)), r.samples === r.baseline ? '' : added(p(r.samples, 50) - p(r.baseline, 50)), r.samples === r.baseline ? '' : added(p(r.samples, 99) - p(r.baseline, 99))]),
  ]);
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
  buildOperator(REPO_ROOT);
  const cluster = await startLocalCluster();
  const operators: Operator[] = [];
  const processes: OperatorProcess[] = [];
  try {
    const kc = reuseConnections(new KubeConfig());
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

    const expiryMs = await refusalAfterExpiry(kc, core);
    // The policy works without the operator; stopped, it takes no CPU from this process's client.
    await reconciler.stop();
    const [vapBase, vapTested] = (await compare(core, ['plain', 'gated'], 'vap')) as [number[], number[]];

    // Webhook engine: the policy's bindings go, the operator's webhook answers instead. The
    // operator runs as its own process (node dist/src/main.js, as in the image), so its event
    // loop is not this client's.
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    for (const b of renderAdmissionBindings()) await admission.deleteValidatingAdmissionPolicyBinding({ name: b.metadata.name });
    const port = await freePort();
    const operator = new OperatorProcess({
      repoRoot: REPO_ROOT,
      kubeconfigPath: cluster.kubeconfigPath,
      resyncSeconds: 60,
      workers: undefined,
      env: {
        LICENSEGATE_WEBHOOK: 'true',
        LICENSEGATE_ADMISSION_ENGINE: 'webhook',
        LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
        LICENSEGATE_WEBHOOK_PORT: String(port),
        LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
        LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${port}${WEBHOOK_PATH}`,
      },
    });
    processes.push(operator);
    await operator.port;
    await until(async () => admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).then(() => true, () => false), 60_000);
    await until(async () => core.createNamespacedPod({ namespace: 'gated', body: pod('probe', '9.9.9'), dryRun: 'All' }, asBench).then(() => false, () => true), 60_000);
    await timedCreates(core, 'gated', 'warm-wh', 50, 0);
    const [whBase, whTested] = (await compare(core, ['plain', 'gated'], 'wh')) as [number[], number[]];
    const rows = [
      { name: 'no policy (policy phase)', samples: vapBase, baseline: vapBase },
      { name: 'ours: admission policy (CEL in the API server)', samples: vapTested, baseline: vapBase },
      { name: 'no policy (webhook phase)', samples: whBase, baseline: whBase },
      { name: 'ours: webhook', samples: whTested, baseline: whBase },
    ];

    if (values.kyverno) {
      // Ours goes away entirely: the operator stops, its webhook configuration is deleted.
      await operator.stop();
      await admission.deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
      const label = 'bench.licensegate.dev/kyverno';
      await applyObjects(kc, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kv-pattern', labels: { [label]: 'true' } } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kv-cel', labels: { [label]: 'true' } } },
      ]);
      console.log(`starting Kyverno ${KYVERNO_VERSION} (its log: ${join(cluster.dir, 'kyverno.log')})`);
      const kyverno = await startKyverno({
        kc,
        kubeconfigPath: cluster.kubeconfigPath,
        repoRoot: REPO_ROOT,
        namespaceSelector: { matchLabels: { [label]: 'true' } },
        logFile: join(cluster.dir, 'kyverno.log'),
      });
      try {
        // Kyverno's own policy webhooks answer TLS errors until it has issued its certificate.
        const policies = kyvernoPolicies(REPO, ['1.0.0', '1.1.0'], { pattern: 'kv-pattern', cel: 'kv-cel' });
        await until(async () => applyObjects(kc, policies).then(() => true, () => false), 120_000);
        // Live once it refuses an unlicensed tag (its TLS Secret takes a few seconds) and admits a licensed one.
        for (const ns of ['kv-pattern', 'kv-cel']) {
          await until(async () => core.createNamespacedPod({ namespace: ns, body: pod('probe', '9.9.9'), dryRun: 'All' }, asBench).then(() => false, () => true), 120_000);
          await until(async () => core.createNamespacedPod({ namespace: ns, body: pod('probe', '1.0.0'), dryRun: 'All' }, asBench).then(() => true, () => false), 60_000);
          await timedCreates(core, ns, 'warm', 50, 0);
        }
        const [kvBase, kvPattern, kvCel] = (await compare(core, ['plain', 'kv-pattern', 'kv-cel'], 'kv')) as [number[], number[], number[]];
        rows.push(
          { name: 'no policy (Kyverno phase)', samples: kvBase, baseline: kvBase },
          { name: 'Kyverno ClusterPolicy (pattern), its webhook', samples: kvPattern, baseline: kvBase },
          { name: 'Kyverno ValidatingPolicy (CEL), its webhook', samples: kvCel, baseline: kvBase },
        );
      } finally {
        await kyverno.stop();
      }
    }

    console.log(`\nPod create latency, ${CREATES} sequential creates per configuration, batches of ${BATCH} alternating with the baseline, one kept-alive client:`);
    console.log(resultTable(rows));
    console.log(`\nfirst refused create after expiresAt: ${expiryMs.toFixed(0)} ms (operator requeues at the transition, writes the empty grant; the API server's param informer picks it up)`);
  } finally {
    for (const o of operators) await o.stop();
    for (const p of processes) await p.stop();
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
