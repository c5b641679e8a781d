/**
 * Benchmark (not a test): the operator at scale on a local control plane.
 *
 *   npm run bench:reconcile -- --customers 1000
 *
 * Starts its own etcd + kube-apiserver, creates 3 Applications, N Customers and 3N Licenses,
 * spawns the operator as a separate process and measures
 *   a. cold-start convergence (spawn → every VersionPolicy, License phase and pull secret as expected),
 *   c. one periodic no-op resync (writes, expected 0, and how long it takes),
 *   b. edit latency (merge-patch a License's versions → the namespace's VersionPolicy shows the tag),
 *      kept clear of periodic resyncs, and then again while one runs (--resync-edits),
 *   d. memory (peak RSS) and CPU of the operator, the API server and etcd,
 * then prints a summary, stops everything and exits 0 (1 with a message on any failure).
 * The no-op resync is measured before the edits so that the edits can keep clear of the
 * periodic resyncs (a resync queues every customer ahead of the edited one).
 */
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { reuseConnections } from '../src/kube/connections.js';
import { GROUP, VERSION } from '../src/api/index.js';
import { installCrds } from '../src/kube/crds.js';
import { apiError } from '../src/kube/errors.js';
import { startLocalCluster, type LocalCluster } from '../src/localcluster/index.js';
import { apiserverRequestMetrics } from './lib/apiserver.js';
import { parseBenchArgs, type BenchOptions } from './lib/args.js';
import { APPLICATIONS, CREDENTIALS_SECRET, deploymentObject, Fixture, FOREIGN_NAMESPACE, foreignPodObject, OPERATOR_NAMESPACE, tagOf, type BenchLicense } from './lib/fixtures.js';
import { diffBy, formatBy, histogram, histogramDelta, histogramQuantile, sum, sumBy, type HistogramData, type Sample } from './lib/metrics.js';
import { buildOperator, OperatorProcess } from './lib/operator-process.js';
import { forEachBounded } from './lib/pool.js';
import { command, cpuSeconds, memory } from './lib/proc.js';
import { mib, ms, summarize, table } from './lib/stats.js';
import { ClusterWatch } from './lib/watch.js';

const REPO_ROOT = join(import.meta.dirname, '..');
const WRITES = 'licensegate_api_writes_total';
const RECONCILES = 'licensegate_reconcile_total';
const DEPTH = 'licensegate_workqueue_depth';
const DURATION = 'licensegate_reconcile_duration_seconds';
const HEAP_USED = 'licensegate_nodejs_heap_size_used_bytes';
const HEAP_TOTAL = 'licensegate_nodejs_heap_size_total_bytes';
const EDIT_TIMEOUT_MS = 60_000;

const benchStart = performance.now();
const elapsed = () => `[${((performance.now() - benchStart) / 1000).toFixed(1).padStart(6)}s]`;
const say = (message: string) => console.log(`${elapsed()} ${message}`);

// ---------------------------------------------------------------------------------------------
// Cleanup and failure handling

const cleanups: { name: string; fn: () => Promise<void> }[] = [];
let finishing = false;

async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    const { name, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (error) {
      console.error(`cleanup (${name}) failed: ${describe(error)}`);
    }
  }
}

async function abort(error: unknown): Promise<never> {
  if (!finishing) {
    finishing = true;
    console.error(`\n${elapsed()} benchmark FAILED: ${describe(error)}`);
    console.error('cleaning up…');
    await cleanup();
  }
  process.exit(1);
}

function describe(error: unknown): string {
  const e = apiError(error);
  if (e.code) return `API server answered ${e.code}${e.reason ? ` ${e.reason}` : ''}: ${e.message}`;
  // The message, and where it was thrown (a few frames) for the unexpected ones.
  return error instanceof Error ? (error.stack ?? error.message).split('\n').slice(0, 4).join('\n') : String(error);
}

// ---------------------------------------------------------------------------------------------
// Resource snapshots: CPU of the processes, operator and API server metrics

interface Pids {
  operator?: number;
  apiserver?: number;
  etcd?: number;
  controllerManager?: number;
}

interface Snapshot {
  at: number;
  cpu: Record<keyof Pids, number | undefined>;
  apiserver: Sample[];
  operator: Sample[] | undefined;
}

async function snapshot(kc: KubeConfig, pids: Pids, operator: OperatorProcess | undefined): Promise<Snapshot> {
  const cpu = (pid: number | undefined) => (pid === undefined ? undefined : cpuSeconds(pid));
  const taken = {
    at: performance.now(),
    cpu: { operator: cpu(pids.operator), apiserver: cpu(pids.apiserver), etcd: cpu(pids.etcd), controllerManager: cpu(pids.controllerManager) },
  };
  const [apiserver, op] = await Promise.all([apiserverRequestMetrics(kc), operator?.metrics()]);
  return { ...taken, apiserver, operator: op };
}

/** What happened between two snapshots: wall time, CPU seconds per process, API requests by verb. */
interface PhaseLoad {
  name: string;
  wallMs: number;
  cpu: Record<keyof Pids, number | undefined>;
  requestsByVerb: Map<string, number>;
  requests: number;
  /** Mean API server latency of mutating requests (ms). */
  meanWriteLatencyMs: number;
  /** Slowest operator /healthz answer in the phase (ms): the longest event-loop stall seen. */
  maxStallMs: number;
}

function phaseLoad(name: string, a: Snapshot, b: Snapshot, operator: OperatorProcess): PhaseLoad {
  const cpu = {} as Record<keyof Pids, number | undefined>;
  for (const key of Object.keys(b.cpu) as (keyof Pids)[]) {
    const before = a.cpu[key] ?? (key === 'operator' ? 0 : undefined);
    const after = b.cpu[key];
    cpu[key] = before === undefined || after === undefined ? undefined : after - before;
  }
  // WATCH and WATCHLIST requests are long-running: their count says little about load.
  const requestsByVerb = diffBy(sumBy(a.apiserver, 'apiserver_request_total', 'verb'), sumBy(b.apiserver, 'apiserver_request_total', 'verb'));
  const writeVerbs = ['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE'];
  const durSum = (s: Sample[]) => writeVerbs.reduce((t, verb) => t + sum(s, 'apiserver_request_duration_seconds_sum', { verb }), 0);
  const durCount = (s: Sample[]) => writeVerbs.reduce((t, verb) => t + sum(s, 'apiserver_request_duration_seconds_count', { verb }), 0);
  const writes = durCount(b.apiserver) - durCount(a.apiserver);
  return {
    name,
    wallMs: b.at - a.at,
    cpu,
    requestsByVerb,
    requests: [...requestsByVerb.values()].reduce((t, v) => t + v, 0),
    meanWriteLatencyMs: writes > 0 ? ((durSum(b.apiserver) - durSum(a.apiserver)) / writes) * 1000 : Number.NaN,
    maxStallMs: summarize(operator.probesBetween(a.at, b.at)).max,
  };
}

// ---------------------------------------------------------------------------------------------
// Operator idleness and the resync clock

/** Polls /metrics until the queue is empty and no reconcile finished for `stableMs`; returns the last scrape. */
async function waitIdle(operator: OperatorProcess, timeoutMs: number, stableMs = 2_000, pollMs = 500): Promise<{ at: number; samples: Sample[] }> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let stableSince = performance.now();
  for (;;) {
    const samples = await operator.metrics();
    const now = performance.now();
    const reconciles = sum(samples, RECONCILES);
    if (reconciles !== last || sum(samples, DEPTH) > 0) {
      last = reconciles;
      stableSince = now;
    } else if (now - stableSince >= stableMs) {
      return { at: stableSince, samples };
    }
    if (now > deadline) throw new Error(`operator not idle after ${timeoutMs} ms (queue depth ${sum(samples, DEPTH)}, reconciles ${reconciles})`);
    await operator.guard(sleep(pollMs));
  }
}

/** When the operator's periodic resyncs fire: every `periodMs` after it started leading. */
class ResyncClock {
  /** Measured duration of a resync (set after phase c), to keep edits clear of resyncs. */
  busyMs = 5_000;

  constructor(
    readonly leadingAt: number,
    readonly periodMs: number,
  ) {}

  /** The first resync at or after `t`. */
  next(t: number): number {
    return this.leadingAt + Math.max(1, Math.ceil((t - this.leadingAt) / this.periodMs)) * this.periodMs;
  }

  /** Sleeps while a resync is about to start or still running, so an edit is not queued behind one. */
  async keepClear(guardMs = 1_500): Promise<boolean> {
    const now = performance.now();
    const upcoming = this.next(now);
    const previous = upcoming - this.periodMs;
    let until = 0;
    if (previous >= this.leadingAt && now < previous + this.busyMs + 1_000) until = previous + this.busyMs + 1_000;
    else if (upcoming - now < guardMs) until = upcoming + this.busyMs + 1_000;
    if (until <= now) return false;
    await sleep(until - now);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

async function createFixture(kc: KubeConfig, fixture: Fixture, options: BenchOptions) {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: object) => custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural, body });

  await core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } }).catch((error: unknown) => {
    if (apiError(error).code !== 409) throw error;
  });
  await core.createNamespacedSecret({
    namespace: OPERATOR_NAMESPACE,
    body: {
      metadata: { name: CREDENTIALS_SECRET },
      type: 'kubernetes.io/basic-auth',
      stringData: { username: 'bench-puller', password: 'bench-password' },
    },
  });

  const timings: { what: string; count: number; ms: number }[] = [];
  const timed = async (what: string, count: number, fn: () => Promise<void>) => {
    const started = performance.now();
    await fn();
    const took = performance.now() - started;
    timings.push({ what, count, ms: took });
    say(`created ${count} ${what} in ${ms(took)} (${((count / took) * 1000).toFixed(0)}/s)`);
  };
  const all = performance.now();
  await timed('Applications', APPLICATIONS.length, async () => {
    for (const app of fixture.applicationObjects()) await create('applications', app);
  });
  await timed('Customers', fixture.customers.length, () =>
    forEachBounded(fixture.customers, options.createConcurrency, async (name) => void (await create('customers', fixture.customerObject(name)))),
  );
  // Workloads the operator's caches hold: Deployments in the customer namespaces (created here,
  // unlabelled, before the operator claims them) and Pods in a namespace no customer owns.
  const apps = kc.makeApiClient(AppsV1Api);
  let workloads = 0;
  if (options.workloads > 0) {
    await timed('customer namespaces with Deployments', fixture.customers.length, () =>
      forEachBounded(fixture.customers, options.createConcurrency, async (name) => {
        await core.createNamespace({ body: { metadata: { name } } });
        for (let w = 0; w < options.workloads; w++) {
          await apps.createNamespacedDeployment({ namespace: name, body: deploymentObject(name, `app-${w}`) as V1Deployment });
        }
      }),
    );
    workloads += fixture.customers.length * options.workloads;
  }
  if (options.foreignPods > 0) {
    await core.createNamespace({ body: { metadata: { name: FOREIGN_NAMESPACE } } });
    const names = Array.from({ length: options.foreignPods }, (_, i) => `foreign-${i}`);
    await timed('Pods in a namespace no customer owns', names.length, () =>
      forEachBounded(names, options.createConcurrency, async (name) => void (await core.createNamespacedPod({ namespace: FOREIGN_NAMESPACE, body: foreignPodObject(name) as V1Pod }))),
    );
    workloads += names.length;
  }
  const licenses = [...fixture.licenses.values()];
  await timed('Licenses', licenses.length, () =>
    forEachBounded(licenses, options.createConcurrency, async (license) => void (await create('licenses', fixture.licenseObject(license)))),
  );
  const total = APPLICATIONS.length + fixture.customers.length + licenses.length + workloads;
  return { timings, total, ms: performance.now() - all };
}

/** The edits: spread over customers and applications, each License at most once. */
function pickEdits(fixture: Fixture, wanted: number): BenchLicense[] {
  const n = fixture.customers.length;
  const picked = new Map<string, BenchLicense>();
  for (let k = 0; k < wanted; k++) {
    const customer = fixture.customers[Math.floor((k * n) / wanted)]!;
    const app = APPLICATIONS[k % APPLICATIONS.length]!;
    const license = [...fixture.licenses.values()].find((l) => l.customer === customer && l.application === app.name);
    if (license) picked.set(license.name, license);
  }
  for (const license of fixture.licenses.values()) {
    if (picked.size >= wanted) break;
    picked.set(license.name, license);
  }
  return [...picked.values()].slice(0, wanted);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2));
  setTimeout(() => void abort(new Error(`the run exceeded --timeout-seconds ${options.timeoutSeconds}`)), options.timeoutSeconds * 1000).unref();
  process.once('SIGINT', () => void abort(new Error('interrupted (SIGINT)')));
  process.once('SIGTERM', () => void abort(new Error('terminated (SIGTERM)')));

  const fixture = new Fixture(options.customers);
  const edits = Math.min(options.edits, fixture.licenses.size);
  console.log('licensegate reconcile benchmark');
  console.log(
    `  customers=${options.customers} licenses=${fixture.licenses.size} applications=${APPLICATIONS.length} edits=${edits} ` +
      `edit-concurrency=${options.editConcurrency} create-concurrency=${options.createConcurrency} resync=${options.resyncSeconds}s ` +
      `workers=${options.workers ?? 'default'} controller-manager=${options.controllerManager} ` +
      `deployments/customer=${options.workloads} foreign-pods=${options.foreignPods} operator=${options.tsx ? 'tsx src/main.ts' : 'node dist/src/main.js'}`,
  );
  console.log(`  node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // 1. Control plane, CRDs, credentials.
  let started = performance.now();
  const cluster: LocalCluster = await startLocalCluster({ controllerManager: options.controllerManager });
  cleanups.push({ name: 'local cluster', fn: () => cluster.stop() });
  const pids: Pids = {};
  for (const pid of cluster.pids) {
    const name = command(pid);
    if (name === 'kube-apiserver') pids.apiserver = pid;
    else if (name === 'etcd') pids.etcd = pid;
    else if (name?.startsWith('kube-controller')) pids.controllerManager = pid;
  }
  say(`control plane up in ${ms(performance.now() - started)} (${cluster.server}, apiserver pid ${pids.apiserver}, etcd pid ${pids.etcd})`);
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  started = performance.now();
  await installCrds(kc);
  say(`CRDs established in ${ms(performance.now() - started)}`);

  // 2. The fixture.
  const creation = await createFixture(kc, fixture, options);
  say(`created ${creation.total} objects in ${ms(creation.ms)} (${((creation.total / creation.ms) * 1000).toFixed(0)} objects/s, ${options.createConcurrency} in flight)`);

  // The benchmark's own watches, synced before the operator exists.
  const watch = new ClusterWatch(kc, fixture);
  await watch.start();
  cleanups.push({ name: 'watches', fn: () => watch.stop() });

  // 3a. Cold start.
  if (!options.tsx) {
    say('building dist/ (npm run build): the operator runs as node dist/src/main.js, as in the image');
    buildOperator(REPO_ROOT);
  }
  const s0 = await snapshot(kc, pids, undefined);
  const cpuProfileDir = options.operatorCpuProfile === undefined ? undefined : resolve(options.operatorCpuProfile);
  const operator = new OperatorProcess({
    tsx: options.tsx,
    repoRoot: REPO_ROOT,
    kubeconfigPath: cluster.kubeconfigPath,
    resyncSeconds: options.resyncSeconds,
    workers: options.workers,
    cpuProfileDir,
  });
  cleanups.push({ name: 'operator', fn: () => operator.stop() });
  pids.operator = operator.pid;
  say(`spawned operator (pid ${operator.pid}); waiting for convergence`);
  const port = await operator.port;
  say(`operator metrics on :${port}`);
  operator.startProbing();
  const converging = watch.converged();
  const convergeTimeoutMs = Math.max(120_000, options.customers * 300);
  const progress = setInterval(() => {
    const p = watch.progress();
    operator.metrics().then(
      (s) => say(`  policies ${p.policies}/${options.customers}  phases ${p.phases}/${fixture.licenses.size}  pull secrets ${p.pullSecrets}/${options.customers}  queue ${sum(s, DEPTH)}  reconciles ${sum(s, RECONCILES)}  writes ${sum(s, WRITES)}`),
      () => undefined,
    );
  }, 10_000);
  let convergedAt: number;
  try {
    convergedAt = await operator.guard(
      Promise.race([
        converging,
        sleep(convergeTimeoutMs).then(() => {
          const p = watch.progress();
          throw new Error(`no convergence within ${ms(convergeTimeoutMs)}: policies ${p.policies}, phases ${p.phases}, pull secrets ${p.pullSecrets}`);
        }),
      ]),
    );
  } finally {
    clearInterval(progress);
  }
  const atConvergence = await operator.metrics();
  const rssAtConvergence = memory(operator.pid);
  say(`converged ${ms(convergedAt - operator.spawnedAt)} after spawn`);
  // After convergence every customer is queued once more (its own writes' watch events): minutes at 10,000 on a loaded machine.
  const idle = await waitIdle(operator, Math.max(120_000, options.customers * 60));
  const s1 = await snapshot(kc, pids, operator);
  const coldLoad = phaseLoad('cold start', s0, s1, operator);
  const coldWrites = s1.operator!;
  const leading = operator.milestones.get('leading') ?? operator.milestones.get('caches synced');
  if (!leading) throw new Error('the operator never logged "leading"');
  say(`operator idle ${ms(idle.at - operator.spawnedAt)} after spawn; ${sum(coldWrites, WRITES)} writes, ${sum(coldWrites, RECONCILES)} reconciles`);

  // 3c. One periodic resync of a converged cluster.
  const clock = new ResyncClock(leading.at, options.resyncSeconds * 1000);
  const keys = options.customers + APPLICATIONS.length;
  const target = clock.next(performance.now() + 2_500);
  say(`waiting for the periodic resync due in ${ms(target - performance.now())}`);
  await operator.guard(sleep(Math.max(0, target - 1_000 - performance.now())));
  const sr0 = await snapshot(kc, pids, operator);
  const r0 = sum(sr0.operator!, RECONCILES);
  const w0 = sum(sr0.operator!, WRITES);
  if (sum(sr0.operator!, DEPTH) > 0) throw new Error('operator queue not empty right before the resync');
  let firstGrowthAt: number | undefined;
  let resyncEnd: { at: number; samples: Sample[] } | undefined;
  const resyncDeadline = target + 60_000 + options.customers * 100;
  while (!resyncEnd) {
    await operator.guard(sleep(200));
    const samples = await operator.metrics();
    const now = performance.now();
    const done = sum(samples, RECONCILES) - r0;
    if (done > 0 && firstGrowthAt === undefined) firstGrowthAt = now;
    if (done >= keys && sum(samples, DEPTH) === 0) resyncEnd = { at: now, samples };
    if (now > resyncDeadline) throw new Error(`resync did not complete: ${done}/${keys} reconciles by ${ms(now - target)} after it was due`);
  }
  await operator.guard(sleep(1_000));
  const sr1 = await snapshot(kc, pids, operator);
  const resyncLoad = phaseLoad('no-op resync', sr0, sr1, operator);
  const resyncStall = summarize(operator.probesBetween(target - 500, resyncEnd.at));
  const resyncWrites = sum(sr1.operator!, WRITES) - w0;
  const resyncReconciles = sum(sr1.operator!, RECONCILES) - r0;
  // Measured from when the timer was due: a busy event loop firing it late counts against the resync.
  const resyncMs = resyncEnd.at - target;
  const resyncHist = histogramDelta(histogram(sr0.operator!, DURATION, { controller: 'customer' }), histogram(sr1.operator!, DURATION, { controller: 'customer' }));
  clock.busyMs = Math.max(2_000, resyncMs * 1.5);
  say(`resync: ${resyncReconciles} reconciles in ~${ms(resyncMs)} (first seen ${ms((firstGrowthAt ?? target) - target)} after due), ${resyncWrites} writes`);
  const resyncWriteKinds = formatBy(diffBy(writeGroups(sr0.operator!), writeGroups(sr1.operator!)));

  // 3b. Edit latency.
  const custom = kc.makeApiClient(CustomObjectsApi);
  const toEdit = pickEdits(fixture, edits);
  const latencies: number[] = [];
  const patchRtts: number[] = [];
  let paused = 0;
  const se0 = await snapshot(kc, pids, operator);
  const events0 = { policies: watch.policyEventCount, licenses: watch.licenseEventCount };
  say(`editing ${toEdit.length} licenses (${options.editConcurrency} at a time), keeping clear of periodic resyncs`);
  /** One edit: merge-patch a License's versions; resolves with the time until its VersionPolicy shows the new tag. */
  const editOnce = async (license: BenchLicense): Promise<{ latency: number; rtt: number }> => {
    const version = fixture.ungrantedVersion(license);
    if (!version) throw new Error(`license ${license.name} already grants the whole catalogue`);
    const app = fixture.application(license.application);
    const versions = [...license.versions, version];
    const shown = watch.waitForTag(license.customer, app.images, tagOf(app, version), EDIT_TIMEOUT_MS);
    shown.catch(() => undefined);
    const t0 = performance.now();
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: license.name, body: { spec: { versions } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const rtt = performance.now() - t0;
    license.versions = versions;
    return { latency: (await operator.guard(shown)) - t0, rtt };
  };
  await forEachBounded(toEdit, options.editConcurrency, async (license) => {
    if (await clock.keepClear()) paused++;
    const { latency, rtt } = await editOnce(license);
    patchRtts.push(rtt);
    latencies.push(latency);
  });
  const editsIdle = await waitIdle(operator, Math.max(120_000, options.customers * 60));
  const se1 = await snapshot(kc, pids, operator);
  const editLoad = phaseLoad('edits', se0, se1, operator);
  const editWrites = sum(se1.operator!, WRITES) - sum(se0.operator!, WRITES);
  const editWriteKinds = formatBy(diffBy(writeGroups(se0.operator!), writeGroups(se1.operator!)));
  const editEvents = { policies: watch.policyEventCount - events0.policies, licenses: watch.licenseEventCount - events0.licenses };
  const edit = summarize(latencies);
  const rtt = summarize(patchRtts);
  say(`edits done; operator idle ${ms(editsIdle.at - se0.at)} after the first; ${editWrites} writes`);

  // 3e. Edits while a periodic resync runs: the resync queues every customer at low priority,
  // and an edit's watch event must not wait behind them.
  const duringResync: number[] = [];
  const depthSeen: number[] = [];
  let duringResyncMs = 0;
  if (options.resyncEdits > 0) {
    const due = clock.next(performance.now() + 2_000);
    say(`waiting for the periodic resync due in ${ms(due - performance.now())}, then editing ${options.resyncEdits} licenses while it runs`);
    await operator.guard(sleep(Math.max(0, due + 300 - performance.now())));
    const started = performance.now();
    // Licenses of customers spread over the whole list, not the ones edited above.
    const others = pickEdits(fixture, Math.min(fixture.licenses.size, edits + options.resyncEdits)).slice(edits);
    for (const license of others.length > 0 ? others : toEdit.slice(0, options.resyncEdits)) {
      depthSeen.push(sum(await operator.metrics(), DEPTH));
      duringResync.push((await editOnce(license)).latency);
    }
    duringResyncMs = performance.now() - started;
    await waitIdle(operator, 120_000 + options.customers * 100);
    say(`edits during the resync done in ${ms(duringResyncMs)}; queue depth seen before each: max ${Math.max(...depthSeen)}, last ${depthSeen.at(-1)}`);
  }
  const resyncEdit = summarize(duringResync);

  const mismatched = watch.recheckPolicies();
  if (mismatched.length > 0) throw new Error(`after the edits, ${mismatched.length} VersionPolicies differ from the model, e.g. ${mismatched.slice(0, 5).join(', ')}`);

  // 3d. Memory, at the end.
  const opMem = memory(operator.pid);
  const apiMem = pids.apiserver === undefined ? undefined : memory(pids.apiserver);
  const etcdMem = pids.etcd === undefined ? undefined : memory(pids.etcd);
  const final = await operator.metrics();
  const custHist = histogram(final, DURATION, { controller: 'customer' });
  const coldHist = histogram(coldWrites, DURATION, { controller: 'customer' });

  // ------------------------------------------------------------------------------------------
  // Report
  const spawnRel = (at: number | undefined) => (at === undefined ? 'n/a' : ms(at - operator.spawnedAt));
  const n = options.customers;
  const coldWriteTotal = sum(coldWrites, WRITES);
  const phases = watch.phaseCounts();
  const line = (title: string) => console.log(`\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}`);

  line('cold start (time from spawn)');
  console.log(
    table([
      ['operator starting (log)', spawnRel(operator.milestones.get('operator starting')?.at)],
      ['caches synced (log)', spawnRel(operator.milestones.get('caches synced')?.at)],
      ['leading (log)', spawnRel(operator.milestones.get('leading')?.at)],
      ['first VersionPolicy', spawnRel(watch.milestones.get('first VersionPolicy'))],
      ['50% VersionPolicies', spawnRel(watch.milestones.get('50% VersionPolicies'))],
      ['all VersionPolicies', spawnRel(watch.milestones.get('all VersionPolicies'))],
      ['all License phases', spawnRel(watch.milestones.get('all License phases'))],
      ['all pull secrets', spawnRel(watch.milestones.get('all pull secrets'))],
      ['CONVERGED', spawnRel(convergedAt)],
      ['operator idle', spawnRel(idle.at)],
    ]),
  );
  console.log(`license phases: ${JSON.stringify(phases)}`);
  const coldStalls = operator.probes
    .filter((p) => p.at < s1.at)
    .sort((x, y) => y.ms - x.ms)
    .slice(0, 3)
    .map((p) => `${ms(p.ms)} at ${spawnRel(p.at)}`);
  const resyncsDue: string[] = [];
  for (let due = clock.next(leading.at + 1); due < s1.at; due += clock.periodMs) resyncsDue.push(spawnRel(due));
  console.log(`longest operator /healthz answers (event-loop stalls): ${coldStalls.join(', ') || 'n/a'}; periodic resyncs were due at: ${resyncsDue.join(', ') || 'none'}`);
  console.log(`writes at convergence: ${sum(atConvergence, WRITES)}; by cold-start idle: ${coldWriteTotal} (${(coldWriteTotal / n).toFixed(2)}/customer; minimum 11/customer = finalizer, namespace, VersionPolicy, pull secret, 3 License statuses, Customer status, 3 Activated events)`);
  console.log(`  by verb/kind: ${formatBy(writeGroups(coldWrites))}`);
  console.log(`reconciles by cold-start idle: ${formatBy(sumBy(coldWrites, RECONCILES, 'outcome'))} (${(sum(coldWrites, RECONCILES, { controller: 'customer' }) / n).toFixed(2)} customer reconciles/customer)`);
  console.log(`customer reconcile duration (cold start): ${histLine(coldHist)}`);

  line('no-op periodic resync');
  console.log(`reconciles ${resyncReconciles} (expected >= ${keys}), writes ${resyncWrites} (expected 0)${resyncWrites ? `: ${resyncWriteKinds}` : ''}`);
  console.log(`duration ~${ms(resyncMs)} (due → queue drained and ${keys} reconciles counted; 200 ms polling), first reconcile seen ${ms((firstGrowthAt ?? target) - target)} after due`);
  console.log(`customer reconcile duration (resync): ${histLine(resyncHist)}`);
  console.log(`operator /healthz during the resync: max ${ms(resyncStall.max)}, p50 ${ms(resyncStall.p50)} (${resyncStall.n} probes, one every 100 ms): the event loop is blocked while no-op reconciles run back to back`);

  line('edit latency (merge patch → VersionPolicy shows the tag, via watch)');
  console.log(`n=${edit.n}  p50 ${ms(edit.p50)}  p90 ${ms(edit.p90)}  p99 ${ms(edit.p99)}  max ${ms(edit.max)}  mean ${ms(edit.mean)}`);
  console.log(`patch round trip alone: p50 ${ms(rtt.p50)}  p99 ${ms(rtt.p99)}; edits paused around a resync: ${paused}`);
  console.log(`writes during edits: ${editWrites} (${(editWrites / Math.max(1, edit.n)).toFixed(2)}/edit; minimum 2 = VersionPolicy + License status): ${editWriteKinds}`);
  console.log(
    `watch events seen during edits: VersionPolicy ${editEvents.policies}, License ${editEvents.licenses} (minimum ${edit.n} and ${2 * edit.n}: ` +
      'a write that changes nothing makes no event, so writes beyond the events were redundant)',
  );
  if (resyncEdit.n > 0) {
    console.log(
      `edits during a resync: n=${resyncEdit.n}  p50 ${ms(resyncEdit.p50)}  p90 ${ms(resyncEdit.p90)}  p99 ${ms(resyncEdit.p99)}  max ${ms(resyncEdit.max)}; ` +
        `operator queue depth before each edit: max ${Math.max(...depthSeen)}, min ${Math.min(...depthSeen)} (resync keys waiting at low priority)`,
    );
  }
  console.log(`final VersionPolicies match the model: ${n - mismatched.length}/${n}`);

  line('API server load by phase');
  const load = [coldLoad, resyncLoad, editLoad];
  console.log(
    table([
      ['phase', 'wall', 'operator CPU', 'apiserver CPU', 'etcd CPU', 'max /healthz', 'requests', 'mean write latency', 'requests by verb'],
      ...load.map((l) => [
        l.name,
        ms(l.wallMs),
        cpuText(l.cpu.operator),
        cpuText(l.cpu.apiserver),
        cpuText(l.cpu.etcd),
        ms(l.maxStallMs),
        String(Math.round(l.requests)),
        ms(l.meanWriteLatencyMs),
        formatBy(l.requestsByVerb),
      ]),
    ]),
  );

  line('memory');
  console.log(
    table([
      ['process', 'VmRSS', 'VmHWM (peak)'],
      ['operator', mib(opMem?.rss), mib(opMem?.hwm)],
      ['kube-apiserver', mib(apiMem?.rss), mib(apiMem?.hwm)],
      ['etcd', mib(etcdMem?.rss), mib(etcdMem?.hwm)],
    ]),
  );
  const synced = operator.milestones.get('caches synced');
  console.log(
    `operator RSS: caches synced ${mib(synced?.rss)}, converged ${mib(rssAtConvergence?.rss)}, end ${mib(opMem?.rss)}; ` +
      `V8 heap used/total: converged ${mib(sum(atConvergence, HEAP_USED))}/${mib(sum(atConvergence, HEAP_TOTAL))}, end ${mib(sum(final, HEAP_USED))}/${mib(sum(final, HEAP_TOTAL))}`,
  );
  const scrapes = summarize(operator.scrapeMs);
  console.log(`operator /metrics scrape: p50 ${ms(scrapes.p50)} max ${ms(scrapes.max)} (${scrapes.n} scrapes); operator log lines: ${formatBy(operator.levelCounts)}`);
  for (const problem of operator.problems.slice(0, 5)) console.log(`  operator ${problem}`);

  // The API server's own write floor, in the same run: a plain client (kept-alive connections,
  // as the operator's) applying objects at the operator's concurrency, with the operator stopped.
  say('stopping the operator; measuring the API server\'s write floor');
  await operator.stop();
  const floorWrites = Math.min(coldWriteTotal, 5000);
  const floor = await writeFloor(kc, floorWrites, options.workers ?? DEFAULT_WORKERS);
  const floorMsForCold = (floor.ms / floor.writes) * coldWriteTotal;
  const coldMs = convergedAt - operator.spawnedAt;
  console.log(
    `write floor: ${floor.writes} server-side applies of 2 KiB ConfigMaps, ${options.workers ?? DEFAULT_WORKERS} in flight: ${ms(floor.ms)} ` +
      `(${((floor.writes / floor.ms) * 1000).toFixed(0)}/s) → ${ms(floorMsForCold)} for the operator's ${coldWriteTotal} cold-start writes; ` +
      `cold convergence took ${(coldMs / floorMsForCold).toFixed(2)}× that`,
  );

  line('SUMMARY');
  console.log(
    table([
      ['metric', 'value'],
      ['customers / licenses / namespaces', `${n} / ${fixture.licenses.size} / ${n}`],
      ['create objects', `${creation.total} in ${ms(creation.ms)} (${((creation.total / creation.ms) * 1000).toFixed(0)}/s)`],
      ['cold start: spawn → converged', ms(convergedAt - operator.spawnedAt)],
      ['cold start: spawn → operator idle', ms(idle.at - operator.spawnedAt)],
      ['cold start writes (per customer)', `${coldWriteTotal} (${(coldWriteTotal / n).toFixed(2)})`],
      ['cold start vs plain-client write floor', `${ms(coldMs)} vs ${ms(floorMsForCold)} (${(coldMs / floorMsForCold).toFixed(2)}×)`],
      ['customer reconcile mean (whole run)', ms((custHist.sum / Math.max(1, custHist.count)) * 1000)],
      ['edit latency p50 / p90 / p99 / max', `${ms(edit.p50)} / ${ms(edit.p90)} / ${ms(edit.p99)} / ${ms(edit.max)} (n=${edit.n})`],
      ['edit latency during a resync p50 / p99 / max', resyncEdit.n > 0 ? `${ms(resyncEdit.p50)} / ${ms(resyncEdit.p99)} / ${ms(resyncEdit.max)} (n=${resyncEdit.n}, queue depth up to ${Math.max(...depthSeen)})` : 'skipped'],
      ['writes per no-op resync', `${resyncWrites} (${resyncReconciles} reconciles)`],
      ['no-op resync duration', `~${ms(resyncMs)}`],
      ['operator /healthz max during resync', ms(resyncStall.max)],
      ['operator RSS peak / now', `${mib(opMem?.hwm)} / ${mib(opMem?.rss)}`],
      ['kube-apiserver RSS peak / now', `${mib(apiMem?.hwm)} / ${mib(apiMem?.rss)}`],
      ['operator CPU cold start / resync / edits', `${cpuText(coldLoad.cpu.operator)} / ${cpuText(resyncLoad.cpu.operator)} / ${cpuText(editLoad.cpu.operator)}`],
      ['apiserver CPU cold start / resync / edits', `${cpuText(coldLoad.cpu.apiserver)} / ${cpuText(resyncLoad.cpu.apiserver)} / ${cpuText(editLoad.cpu.apiserver)}`],
    ]),
  );
  if (resyncWrites !== 0) console.log(`\nWARNING: a no-op resync wrote ${resyncWrites} times (${resyncWriteKinds})`);

  say('stopping the control plane');
  if (cpuProfileDir) console.log(`operator CPU profile(s): ${readdirSync(cpuProfileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(cpuProfileDir, f)).join(', ')}`);
}

/** The operator's default LICENSEGATE_WORKERS (src/config.ts). */
const DEFAULT_WORKERS = 4;

/** `count` server-side applies of new 2 KiB ConfigMaps, `concurrency` in flight: how fast this API server takes writes. */
async function writeFloor(admin: KubeConfig, count: number, concurrency: number): Promise<{ writes: number; ms: number }> {
  const kc = reuseConnections(new KubeConfig());
  kc.loadFromString(admin.exportConfig());
  const client = KubernetesObjectApi.makeApiClient(kc);
  const namespace = 'bench-write-floor';
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  const payload = 'x'.repeat(2048);
  const names = Array.from({ length: count }, (_, i) => `floor-${i}`);
  const started = performance.now();
  await forEachBounded(names, concurrency, async (name) => {
    await client.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { payload } }, undefined, undefined, 'bench-floor', true, PatchStrategy.ServerSideApply);
  });
  return { writes: count, ms: performance.now() - started };
}

function writeGroups(samples: Sample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === WRITES) out.set(`${s.labels.verb}/${s.labels.kind}`, (out.get(`${s.labels.verb}/${s.labels.kind}`) ?? 0) + s.value);
  return out;
}

function histLine(h: HistogramData): string {
  if (h.count === 0) return 'no observations';
  const mean = (h.sum / h.count) * 1000;
  return `n=${h.count} mean ${mean.toFixed(1)} ms, ~p50 ${(histogramQuantile(h, 0.5) * 1000).toFixed(1)} ms, ~p99 ${(histogramQuantile(h, 0.99) * 1000).toFixed(1)} ms (bucket-interpolated)`;
}

function cpuText(seconds: number | undefined): string {
  return seconds === undefined ? 'n/a' : `${seconds.toFixed(1)} s`;
}

main().then(
  async () => {
    finishing = true;
    await cleanup();
    say('done');
    process.exit(0);
  },
  (error: unknown) => abort(error),
);
