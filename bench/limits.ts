/**
 * Limits benchmark (not a test): the latency the limits webhook adds at admission, side by side:
 *   no licensegate | version policy only (VAP) | webhook, namespace already holds its token |
 *   webhook with a claim write (a first-use seat per request: a compare-and-swap Ledger update)
 *
 *   npm run bench:limits [-- --creates 500 --batch 50]
 *
 * Starts its own local control plane and one operator serving the webhook; creates Pods one at a
 * time (no kubelet runs, so they are only stored), alternating batches between the
 * configurations so all see the same machine load.
 */
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { API_VERSION } from '../src/api/index.js';
import { loadConfig } from '../src/config.js';
import { WEBHOOK_PATH } from '../src/enforcement/webhook-config.js';
import { applyObjects } from '../src/kube/apply.js';
import { installCrds } from '../src/kube/crds.js';
import { freePort, startLocalCluster } from '../src/localcluster/index.js';
import { Operator } from '../src/operator.js';

const { values } = parseArgs({ options: { creates: { type: 'string', default: '500' }, batch: { type: 'string', default: '50' } } });
const CREATES = Number(values.creates);
const BATCH = Number(values.batch);
const REPO = 'registry.bench.example/acme/api';
const log = pino({ level: 'warn' });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const pod = (name: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: `${REPO}:1.0.0` }] } });
/** Impersonated (in system:masters, so RBAC passes): the operator runs as admin here, and the webhook exempts it. */
const as = (user: string) => setHeaderOptions('Impersonate-User', user, setHeaderOptions('Impersonate-Group', 'system:masters'));

interface Configuration {
  name: string;
  namespace: string;
  /** Who makes create number i (a new user per create takes a new first-use seat: one claim write each). */
  user: (i: number) => string;
  samples: number[];
}

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  console.log(`licensegate limits benchmark: ${CREATES} Pod creates per configuration, batches of ${BATCH}`);
  const cluster = await startLocalCluster();
  let operator: Operator | undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await installCrds(kc);
    const license = (name: string, limits?: Record<string, number>) => [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name }, spec: { customer: name, application: 'bench', versions: ['1.0.0'], ...(limits ? { limits } : {}) } },
    ];
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'bench' }, spec: { images: [REPO], versions: [{ version: '1.0.0' }] } },
      ...license('unlimited'),
      ...license('tokens', { maxReplicas: 1_000_000, concurrentNamespaces: 10 }),
      ...license('seats', { seats: 10_000 }),
    ]);
    const port = await freePort();
    operator = new Operator({
      kc,
      log,
      config: loadConfig({
        LICENSEGATE_LEADER_ELECTION: 'false',
        LICENSEGATE_HTTP_PORT: '0',
        LICENSEGATE_WEBHOOK: 'true',
        LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
        LICENSEGATE_WEBHOOK_PORT: String(port),
        LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
        LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${port}${WEBHOOK_PATH}`,
      }),
    });
    await operator.start();
    const configurations: Configuration[] = [
      { name: 'no licensegate', namespace: 'plain', user: () => 'bench', samples: [] },
      { name: 'version policy only', namespace: 'unlimited', user: () => 'bench', samples: [] },
      { name: 'webhook, token held', namespace: 'tokens', user: () => 'bench', samples: [] },
      { name: 'webhook + claim write', namespace: 'seats', user: (i) => `bench-${i}`, samples: [] },
    ];
    for (const c of configurations) {
      await until(async () => core.createNamespacedPod({ namespace: c.namespace, body: pod('probe'), dryRun: 'All' }, as('bench-probe')).then(() => true, () => false));
    }
    // Warm up (and let 'tokens' take its token: later creates there find it held).
    for (const c of configurations) for (let i = 0; i < 20; i++) await core.createNamespacedPod({ namespace: c.namespace, body: pod(`warm-${i}`) }, as(`warm-${i}`));

    for (let done = 0; done < CREATES; done += BATCH) {
      for (const c of configurations) {
        for (let i = done; i < Math.min(done + BATCH, CREATES); i++) {
          const started = performance.now();
          await core.createNamespacedPod({ namespace: c.namespace, body: pod(`p-${i}`) }, as(c.user(i)));
          c.samples.push(performance.now() - started);
        }
      }
    }

    const base = [...configurations[0]!.samples].sort((a, b) => a - b);
    console.log('\nPod create latency, sequential, one client (added = over "no licensegate"):');
    console.log(`${'configuration'.padEnd(24)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)}   ${'added p50'.padStart(10)} ${'added p99'.padStart(10)}`);
    for (const c of configurations) {
      const s = [...c.samples].sort((a, b) => a - b);
      const cell = (q: number) => `${percentile(s, q).toFixed(2)} ms`.padStart(8);
      const added = (q: number) => `${(percentile(s, q) - percentile(base, q)).toFixed(2)} ms`.padStart(10);
      console.log(`${c.name.padEnd(24)} ${cell(50)} ${cell(90)} ${cell(99)}   ${added(50)} ${added(99)}`);
    }
    const [, policy, held, claim] = configurations.map((c) => [...c.samples].sort((a, b) => a - b));
    console.log(`\nwebhook (token held) over version policy only: p50 ${(percentile(held!, 50) - percentile(policy!, 50)).toFixed(2)} ms`);
    console.log(`claim write over token held:                    p99 ${(percentile(claim!, 99) - percentile(held!, 99)).toFixed(2)} ms`);
    // Inside the operator: how long the webhook itself took per review (the rest is the API server's call and the network).
    const reviews = (await operator.metrics.webhookSeconds.get()).values;
    const sum = reviews.find((v) => v.metricName?.endsWith('_sum') && v.labels.allowed === 'true')?.value ?? 0;
    const count = reviews.find((v) => v.metricName?.endsWith('_count') && v.labels.allowed === 'true')?.value ?? 0;
    if (count > 0) console.log(`webhook time inside the operator, mean over ${count} admitted reviews (token held and claims): ${((sum / count) * 1000).toFixed(2)} ms`);
  } finally {
    await operator?.stop();
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
