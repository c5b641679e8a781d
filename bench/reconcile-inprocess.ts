/**
 * Benchmark (not a test): the cost of one no-op customer reconcile as the cluster grows, in
 * process, with no API server — to find per-reconcile work that scales with the cluster.
 *
 *   npx tsx bench/reconcile-inprocess.ts --customers 10000 [--profile /tmp/noop.cpuprofile]
 *
 * The operator's own caches (real informers, filled directly) hold what bench:reconcile's
 * cluster holds after convergence, plus what a real cluster adds: a default ServiceAccount per
 * namespace, three Ledgers per customer and Pods of other namespaces. A fake writer applies
 * every write to the caches, so repeated passes converge; then one no-op pass over every
 * customer is timed (and CPU-profiled with --profile). It must write nothing.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { KubeConfig, type KubernetesObject, type V1ConfigMap, type V1Namespace, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import pino from 'pino';
import { ledgerName, type Application, type Customer, type Ledger, type LedgerSpec, type License, type VersionPolicy } from '../src/api/index.js';
import type { Workload } from '../src/enforcement/sweep.js';
import { WORKLOAD_RESOURCES } from '../src/enforcement/workload.js';
import { projectWorkload } from '../src/enforcement/workload-projection.js';
import { Informer, type ObjectLike } from '../src/kube/informer.js';
import type { KubeWriter } from '../src/kube/writer.js';
import { OperatorMetrics } from '../src/metrics.js';
import { indexedCaches, type WorkloadCache } from '../src/reconcile/caches.js';
import { CustomerReconciler } from '../src/reconcile/customer.js';
import type { LedgerWriter } from '../src/reconcile/ledger.js';
import { SweepController } from '../src/reconcile/sweep.js';
import { limitUses } from '../src/render/usage.js';
import { CREDENTIALS_SECRET, deploymentObject, Fixture, FOREIGN_NAMESPACE, foreignPodObject, OPERATOR_NAMESPACE } from './lib/fixtures.js';
import { summarize } from './lib/stats.js';

const { values } = parseArgs({ options: { customers: { type: 'string' }, profile: { type: 'string' }, 'foreign-pods': { type: 'string' } } });
const customers = Number(values.customers ?? 10_000);
const foreignPods = Number(values['foreign-pods'] ?? 1000);
const log = pino({ level: 'silent' });
const now = new Date('2026-06-15T12:00:00Z');

const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'none', server: 'http://127.0.0.1:9' }],
  users: [{ name: 'none' }],
  contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
  currentContext: 'none',
});

// Informers that are never started: the harness puts objects into their caches directly.
const informer = <T extends ObjectLike>(path: string) => new Informer<T>(kc, { path, log });
type Store<T> = { put(o: T): void; remove(o: T): void };
const store = <T extends ObjectLike>(i: Informer<T>) => i as unknown as Store<T>;
let rv = 1;
const stamp = <T extends ObjectLike>(o: T): T => ({ ...o, metadata: { ...o.metadata, resourceVersion: String(++rv) } });

const informers = {
  applications: informer<Application>('applications'),
  customers: informer<Customer>('customers'),
  licenses: informer<License>('licenses'),
  namespaces: informer<V1Namespace>('namespaces'),
  versionPolicies: informer<VersionPolicy>('versionpolicies'),
  pullSecrets: informer<V1Secret>('secrets'),
  statusConfigMaps: informer<V1ConfigMap & ObjectLike>('configmaps'),
  credentialSecrets: informer<V1Secret>('credentials'),
  serviceAccounts: informer<V1ServiceAccount>('serviceaccounts'),
  ledgers: informer<Ledger>('ledgers'),
};
const workloadInformers = WORKLOAD_RESOURCES.map((w) => ({ w, i: informer<Workload>(w.resource) }));
const workloads: WorkloadCache[] = workloadInformers.map(({ i }) => ({ list: () => i.list(), inNamespace: (ns) => i.inNamespace(ns), get: (n, ns) => i.get(n, ns) }));
const caches = indexedCaches({ ...informers, workloads });
const putWorkload = (o: Record<string, unknown>, kind: string) => {
  const found = workloadInformers.find(({ w }) => w.kind === kind)!;
  store(found.i).put(stamp(projectWorkload(o, kind === 'Pod' ? 'v1' : 'apps/v1', kind) as unknown as Workload));
};

// ---- the fixture
const fixture = new Fixture(customers);
for (const app of fixture.applicationObjects()) store(informers.applications).put(stamp(app as Application));
store(informers.credentialSecrets).put(stamp({
  metadata: { name: CREDENTIALS_SECRET, namespace: OPERATOR_NAMESPACE },
  type: 'kubernetes.io/basic-auth',
  data: { username: Buffer.from('u').toString('base64'), password: Buffer.from('p').toString('base64') },
}));
const namespace = (name: string) => {
  store(informers.namespaces).put(stamp({ metadata: { name, uid: `uid-${name}` } }));
  store(informers.serviceAccounts).put(stamp({ metadata: { name: 'default', namespace: name } }));
};
namespace('kube-system');
namespace(OPERATOR_NAMESPACE);
namespace(FOREIGN_NAMESPACE);
for (let p = 0; p < foreignPods; p++) putWorkload(foreignPodObject(`foreign-${p}`), 'Pod');
for (const name of fixture.customers) {
  store(informers.customers).put(stamp(fixture.customerObject(name) as Customer));
  namespace(name);
  putWorkload(deploymentObject(name, 'app-0'), 'Deployment');
}
for (const license of fixture.licenses.values()) {
  store(informers.licenses).put(stamp(fixture.licenseObject(license) as License));
  store(informers.ledgers).put(stamp({ apiVersion: 'licensegate.dev/v1alpha1', kind: 'Ledger', metadata: { name: ledgerName(license.customer, license.application) }, spec: { customer: license.customer, application: license.application } } as Ledger));
}

// ---- a writer that applies every write to the caches
let writes = 0;
const byKind: Record<string, Informer<ObjectLike>> = {
  Namespace: informers.namespaces,
  VersionPolicy: informers.versionPolicies,
  Secret: informers.pullSecrets,
  ConfigMap: informers.statusConfigMaps,
  Customer: informers.customers,
  ServiceAccount: informers.serviceAccounts,
} as unknown as Record<string, Informer<ObjectLike>>;
const merge = (base: Record<string, unknown> | undefined, patch: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v)) out[k] = merge(out[k] as Record<string, unknown> | undefined, v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
};
const upsert = (object: KubernetesObject) => {
  const i = byKind[object.kind!];
  if (!i) throw new Error(`harness writer: no cache for ${object.kind}`);
  const existing = i.get(object.metadata!.name!, object.metadata!.namespace);
  store(i).put(stamp(merge(existing as Record<string, unknown>, object as unknown as Record<string, unknown>) as ObjectLike));
};
const writer = {
  apply: async (object: KubernetesObject) => (writes++, upsert(object), object),
  mergePatch: async (object: KubernetesObject) => (writes++, upsert(object), object),
  delete: async (object: KubernetesObject) => {
    writes++;
    const i = byKind[object.kind!]!;
    const existing = i.get(object.metadata!.name!, object.metadata!.namespace);
    if (existing) store(i).remove(existing);
  },
  applyClusterStatus: async (args: { plural: string; name: string; status: unknown }) => {
    writes++;
    const i = (args.plural === 'licenses' ? informers.licenses : informers.customers) as unknown as Informer<ObjectLike>;
    store(i).put(stamp({ ...i.get(args.name)!, status: args.status } as ObjectLike));
  },
  event: async () => void writes++,
} as unknown as KubeWriter;
const ledgers = {
  change: async (customer: string, application: string, change: (spec: LedgerSpec) => { spec?: LedgerSpec; result: unknown }, known?: Ledger) => {
    const current = known ?? caches.ledgers.get(ledgerName(customer, application));
    const decided = change(structuredClone(current?.spec ?? { customer, application }));
    if (decided.spec) {
      writes++;
      store(informers.ledgers).put(stamp({ ...(current ?? { metadata: { name: ledgerName(customer, application) } }), spec: decided.spec } as Ledger));
    }
    return { result: decided.result, wrote: decided.spec !== undefined, ledger: current };
  },
} as unknown as LedgerWriter;

// ---- the operator's customer reconciler, with its metrics and sweep bookkeeping
const metrics = new OperatorMetrics();
const sweeps = new SweepController({ writer, log, workloads, dryRun: false, clock: () => now, metrics });
const reconciler = new CustomerReconciler({
  kc,
  caches,
  writer,
  log,
  operatorNamespace: OPERATOR_NAMESPACE,
  clock: () => now,
  ledgers,
  nodeCount: () => 1,
  onSweepTargets: (customer, policies, onViolation, beyondLimits) => void sweeps.setCustomerTargets(customer, policies, onViolation, beyondLimits),
  onPlanned: (_customer, plan, licensesOfCustomer) => {
    for (const license of licensesOfCustomer) {
      const e = plan.evaluations.get(license.metadata.name);
      if (e) metrics.recordLicense(license.metadata.name, license.spec.customer, license.spec.application, e.phase, e.effectiveExpiresAt);
      const usage = plan.licenseStatuses.get(license.metadata.name)?.usage;
      const measured = { replicas: usage?.replicas ?? 0, namespaces: usage?.namespaces ?? [], seatHolders: usage?.seatHolders ?? [] };
      metrics.recordLimits(license.metadata.name, license.spec.customer, license.spec.application, limitUses(license, measured));
    }
  },
});

async function pass(): Promise<{ ms: number[]; writes: number }> {
  const before = writes;
  const ms: number[] = [];
  for (const name of fixture.customers) {
    const t0 = performance.now();
    await reconciler.reconcile(name);
    ms.push(performance.now() - t0);
  }
  return { ms, writes: writes - before };
}

const t0 = performance.now();
for (let p = 1; ; p++) {
  const { writes: w } = await pass();
  console.log(`converging: pass ${p} wrote ${w}`);
  if (w === 0) break;
  if (p >= 6) throw new Error('no convergence after 6 passes');
}
console.log(`converged in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${caches.namespaces.list().length} namespaces, ${caches.ledgers.list().length} ledgers, ${caches.serviceAccounts.list().length} service accounts`);

const session = values.profile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
}
const measured = await pass();
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
  console.log(`CPU profile of the no-op pass: ${values.profile}`);
}
const s = summarize(measured.ms);
const total = measured.ms.reduce((a, b) => a + b, 0);
console.log(`no-op pass over ${customers} customers: ${(total / 1000).toFixed(2)} s, ${measured.writes} writes; per reconcile mean ${s.mean.toFixed(2)} ms, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`);
if (measured.writes !== 0) process.exitCode = 1;

// What a Prometheus scrape of the same process costs (it runs on the reconciles' event loop).
const scrapes: number[] = [];
let size = 0;
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  size = (await metrics.registry.metrics()).length;
  scrapes.push(performance.now() - t);
}
console.log(`/metrics: ${(size / 1024).toFixed(0)} KiB, ${scrapes.map((t) => `${t.toFixed(0)} ms`).join(', ')}`);
