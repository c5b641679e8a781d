/**
 * Limits benchmark (not a test): the latency the limits webhook adds at admission, side by side
 * (issue #9's goals: a request whose namespace already holds its token adds ≤ 2 ms p50 over the
 * webhook without limits; a claim write adds ≤ 15 ms p99):
 *   no licensegate | version policy only (VAP) | limits webhook, nothing limited applies |
 *   limits webhook, namespace already holds its token | limits webhook with a claim write
 *   (a first-use seat per request: a compare-and-swap Ledger update)
 *
 *   npm run bench:limits [-- --creates 500 --batch 50]
 *
 * Starts its own local control plane and one operator serving the webhook; creates Pods one at a
 * time (no kubelet runs, so they are only stored), alternating batches between the
 * configurations so all see the same machine load. Each create also makes the operator
 * reconcile the customer (usage, status, Ledger usage record), as it would in a cluster.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
const OTHER_REPO = 'registry.bench.example/acme/other';
const log = pino({ level: 'warn' });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const pod = (name: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: `${REPO}:1.0.0` }] } });
/** Impersonated (in system:masters, so RBAC passes): the operator runs as admin here, and the webhook exempts it. */
const as = (user: string) => setHeaderOptions('Impersonate-User', user, setHeaderOptions('Impersonate-Group', 'system:masters'));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

/** What the operator did while one configuration's batches ran (deltas of its metrics). */
interface Inside {
  reviews: number;
  reviewSeconds: number;
  ledgerWrites: number;
  ledgerConflicts: number;
}

interface Configuration {
  name: string;
  namespace: string;
  /** Who makes create number i (a new user per create takes a new first-use seat: one claim write each). */
  user: (i: number) => string;
  samples: number[];
  inside: Inside;
  /** Event-loop delay of the process (operator and client) while this configuration ran. */
  loopDelay: ReturnType<typeof monitorEventLoopDelay>;
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
    const license = (name: string, limits?: Record<string, number>, application = 'bench') => ({
      apiVersion: API_VERSION,
      kind: 'License',
      metadata: { name: application === 'bench' ? name : `${name}-${application}` },
      spec: { customer: name, application, versions: ['1.0.0'], ...(limits ? { limits } : {}) },
    });
    const customer = (name: string) => ({ apiVersion: API_VERSION, kind: 'Customer', metadata: { name }, spec: {} });
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'bench' }, spec: { images: [REPO], versions: [{ version: '1.0.0' }] } },
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'other' }, spec: { images: [OTHER_REPO], versions: [{ version: '1.0.0' }] } },
      customer('unlimited'),
      license('unlimited'),
      // Limited for another application only: the limits webhook is called here (the namespace
      // carries the limits label) but nothing limited applies to the Pods created.
      customer('nolimits'),
      license('nolimits'),
      license('nolimits', { maxReplicas: 1_000_000 }, 'other'),
      customer('tokens'),
      license('tokens', { maxReplicas: 1_000_000, concurrentNamespaces: 10 }),
      customer('seats'),
      license('seats', { seats: 10_000 }),
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
    const configuration = (name: string, namespace: string, user: (i: number) => string): Configuration => ({
      name,
      namespace,
      user,
      samples: [],
      inside: { reviews: 0, reviewSeconds: 0, ledgerWrites: 0, ledgerConflicts: 0 },
      loopDelay: monitorEventLoopDelay({ resolution: 1 }),
    });
    const configurations: Configuration[] = [
      configuration('no licensegate', 'plain', () => 'bench'),
      configuration('version policy only', 'unlimited', () => 'bench'),
      configuration('webhook, no limit applies', 'nolimits', () => 'bench'),
      configuration('webhook, token held', 'tokens', () => 'bench'),
      configuration('webhook + claim write', 'seats', (i) => `bench-${i}`),
    ];
    const [plain, policy, unlimitedWebhook, held, claim] = configurations as [Configuration, Configuration, Configuration, Configuration, Configuration];
    // Each namespace is judged the way it should be before any sample counts: the policy binds
    // ('plain' is not a customer's), and the limits webhook is called where the customer is limited.
    for (const c of configurations) {
      await until(async () => core.createNamespacedPod({ namespace: c.namespace, body: pod('probe'), dryRun: 'All' }, as('bench-probe')).then(() => true, () => false));
    }
    const metrics = operator.metrics;
    const inside = async (): Promise<Inside> => {
      const reviews = (await metrics.webhookSeconds.get()).values.filter((v) => v.labels.allowed === 'true');
      const writes = (await metrics.writes.get()).values.filter((v) => v.labels.kind === 'Ledger');
      return {
        reviews: reviews.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0,
        reviewSeconds: reviews.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0,
        ledgerWrites: writes.reduce((sum, v) => sum + v.value, 0),
        ledgerConflicts: (await metrics.ledgerConflicts.get()).values.reduce((sum, v) => sum + v.value, 0),
      };
    };
    const webhookCalled = async (c: Configuration) => {
      const before = (await inside()).reviews;
      await core.createNamespacedPod({ namespace: c.namespace, body: pod('probe'), dryRun: 'All' }, as('bench-probe'));
      return (await inside()).reviews > before;
    };
    for (const c of [unlimitedWebhook, held, claim]) await until(() => webhookCalled(c));
    if (await webhookCalled(policy)) throw new Error(`the limits webhook is called in ${policy.namespace}: the comparison would be wrong`);

    // Warm up (and let 'tokens' take its token: later creates there find it held).
    for (const c of configurations) for (let i = 0; i < 20; i++) await core.createNamespacedPod({ namespace: c.namespace, body: pod(`warm-${i}`) }, as(`warm-${i}`));
    await operator.whenIdle();
    const loadBefore = load();

    for (let done = 0; done < CREATES; done += BATCH) {
      for (const c of configurations) {
        const before = await inside();
        c.loopDelay.enable();
        for (let i = done; i < Math.min(done + BATCH, CREATES); i++) {
          const started = performance.now();
          await core.createNamespacedPod({ namespace: c.namespace, body: pod(`p-${i}`) }, as(c.user(i)));
          c.samples.push(performance.now() - started);
        }
        c.loopDelay.disable();
        const after = await inside();
        for (const key of Object.keys(c.inside) as (keyof Inside)[]) c.inside[key] += after[key] - before[key];
      }
    }
    const loadAfter = load();

    const sorted = (c: Configuration) => [...c.samples].sort((a, b) => a - b);
    const base = sorted(plain);
    console.log(`\nload average (1/5/15 min): ${loadBefore} before the measured creates, ${loadAfter} after`);
    console.log('\nPod create latency, sequential, one client (added = over "no licensegate"):');
    console.log(
      `${'configuration'.padEnd(26)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(9)}   ${'added p50'.padStart(10)} ${'added p99'.padStart(10)}` +
        `   ${'in operator'.padStart(11)} ${'Ledger writes'.padStart(13)} ${'409s'.padStart(5)} ${'loop delay p99'.padStart(14)}`,
    );
    for (const c of configurations) {
      const s = sorted(c);
      const cell = (q: number, width = 8) => `${percentile(s, q).toFixed(2)} ms`.padStart(width);
      const added = (q: number) => `${(percentile(s, q) - percentile(base, q)).toFixed(2)} ms`.padStart(10);
      const mean = c.inside.reviews > 0 ? `${((c.inside.reviewSeconds / c.inside.reviews) * 1000).toFixed(2)} ms` : '—';
      const delay = `${(c.loopDelay.percentile(99) / 1e6).toFixed(1)} ms`;
      console.log(
        `${c.name.padEnd(26)} ${cell(50)} ${cell(90)} ${cell(99, 9)}   ${added(50)} ${added(99)}` +
          `   ${mean.padStart(11)} ${String(c.inside.ledgerWrites).padStart(13)} ${String(c.inside.ledgerConflicts).padStart(5)} ${delay.padStart(14)}`,
      );
    }
    const diff = (a: Configuration, b: Configuration, q: number) => (percentile(sorted(a), q) - percentile(sorted(b), q)).toFixed(2);
    console.log('\n"in operator": mean time the webhook took per admitted review; "Ledger writes" and "409s": the operator\'s, claims and reconciles together.');
    console.log(`\ngoal ≤ 2 ms:  token held over the webhook with no limit:  p50 ${diff(held, unlimitedWebhook, 50)} ms`);
    console.log(`goal ≤ 15 ms: claim write over token held:               p99 ${diff(claim, held, 99)} ms (p50 ${diff(claim, held, 50)} ms)`);
    console.log(`for reference: token held over version policy only:     p50 ${diff(held, policy, 50)} ms`);
    // A claim rewrites the whole Ledger, which grows by one seat per claim here (plus the month's
    // seat holders in its usage record): the API server's cost of that write grows with it.
    const slice = Math.min(100, Math.floor(CREATES / 2));
    const part = (c: Configuration, from: number) => [...c.samples.slice(from, from + slice)].sort((a, b) => a - b);
    for (const [label, from, seats] of [['first', 0, 20], ['last', CREATES - slice, 20 + CREATES - slice]] as const) {
      const [claims, holds] = [part(claim, from), part(held, from)];
      console.log(
        `claims, ${label} ${slice} (Ledger holding ${seats}–${seats + slice} seats): p50 ${percentile(claims, 50).toFixed(2)} ms, p99 ${percentile(claims, 99).toFixed(2)} ms;` +
          ` over token held p50 ${(percentile(claims, 50) - percentile(holds, 50)).toFixed(2)} ms, p99 ${(percentile(claims, 99) - percentile(holds, 99)).toFixed(2)} ms`,
      );
    }
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
