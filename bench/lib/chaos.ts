/**
 * Kill chaos: cold convergence of N customers, once undisturbed and once with the operator
 * process SIGKILLed (and restarted at once) at random moments; the end states must be the
 * same. Used by `npm run chaos` (bench/chaos.ts) and, small, by test/integration/chaos.test.ts.
 *
 * Both runs use the same shape of objects under different name prefixes, so they can share a
 * cluster; snapshots are compared with the prefix replaced. Times that depend on when a run
 * happened (trial starts, transition times) are left out of the comparison; everything else
 * the operator writes is in it: VersionPolicies, pull Secrets, License and Customer statuses,
 * namespace labels.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type Customer, type License, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { OWNED_SELECTOR } from '../../src/vocabulary/labels.js';
import { OperatorProcess } from './operator-process.js';

export interface ChaosOptions {
  kc: KubeConfig;
  kubeconfigPath: string;
  repoRoot: string;
  customers: number;
  kills: number;
  /** Seeds the kill times. */
  seed: number;
  /** Name prefix of this run's objects (two runs: `${prefix}-calm`, `${prefix}-kill`). */
  prefix: string;
  log?: (line: string) => void;
  /** Longest wait for convergence after the last start. */
  timeoutMs?: number;
}

export interface RunFigures {
  convergedMs: number;
  events: number;
  writes: number;
}

export interface ChaosResult {
  calm: RunFigures;
  chaos: RunFigures & { kills: number[]; restarts: number };
  /** Differences between the normalized end states (empty: identical). */
  differences: string[];
  objects: number;
}

const OPERATOR_NAMESPACE = 'licensegate-system';
const DAY = 86_400_000;
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The objects of one run: two applications, and per customer two licenses (some trials, some with expiry, some with two namespaces). */
export function chaosObjects(prefix: string, customers: number, expiresAt: string): KubernetesObject[] {
  const app = `${prefix}-app`;
  const reg = `${prefix}-reg`;
  const objects: KubernetesObject[] = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${prefix}-creds`, namespace: OPERATOR_NAMESPACE }, type: 'kubernetes.io/basic-auth', stringData: { username: 'puller', password: 'token' } } as KubernetesObject,
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.chaos.example/${app}/api`], versions: ['1.0.0', '1.1.0', '2.0.0'].map((version) => ({ version })) } } as KubernetesObject,
    {
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: reg },
      spec: { images: [`registry.chaos.example/${reg}/proxy`], tagFormat: 'v{version}', versions: [{ version: '3.0.0' }, { version: '3.1.0' }], registry: { server: 'registry.chaos.example', credentialsSecret: { namespace: OPERATOR_NAMESPACE, name: `${prefix}-creds` } } },
    } as KubernetesObject,
  ];
  for (let i = 0; i < customers; i++) {
    const customer = `${prefix}-c${i}`;
    objects.push({
      apiVersion: API_VERSION,
      kind: 'Customer',
      metadata: { name: customer },
      spec: { ...(i % 5 === 0 ? { namespaces: [`${customer}-a`, `${customer}-b`] } : {}), enforcement: { admission: i % 3 === 0 ? 'Warn' : 'Deny' } },
    } as KubernetesObject);
    objects.push({ apiVersion: API_VERSION, kind: 'License', metadata: { name: `${customer}-app` }, spec: { customer, application: app, versions: [i % 2 ? '>=1.0.0 <2.0.0' : '*'], ...(i % 4 === 0 ? { expiresAt } : {}) } } as KubernetesObject);
    objects.push({ apiVersion: API_VERSION, kind: 'License', metadata: { name: `${customer}-reg` }, spec: { customer, application: reg, versions: ['3.0.0'], ...(i % 7 === 0 ? { type: 'Trial' } : {}) } } as KubernetesObject);
  }
  return objects;
}

/** What the operator wrote for one run, normalized: prefix replaced, run-dependent times left out. */
export async function snapshot(kc: KubeConfig, prefix: string): Promise<Record<string, unknown>> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const list = async <T>(plural: string) => ((await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as { items: T[] }).items;
  const mine = (name: string | undefined) => (name ?? '').startsWith(`${prefix}-`);
  const [licenses, customers, policies, secrets, namespaces] = await Promise.all([
    list<License>('licenses'),
    list<Customer>('customers'),
    list<VersionPolicy>('versionpolicies'),
    core.listSecretForAllNamespaces({ labelSelector: OWNED_SELECTOR }).then((r) => r.items),
    core.listNamespace().then((r) => r.items),
  ]);
  const conditions = (cs: { type: string; status: string; reason: string; message: string }[] | undefined) =>
    (cs ?? []).map(({ type, status, reason, message }) => ({ type, status, reason, message }));
  const state: Record<string, unknown> = {};
  for (const l of licenses.filter((x) => mine(x.metadata.name))) {
    const s = l.status;
    const trial = l.spec.type === 'Trial';
    state[`License/${l.metadata.name}`] = {
      phase: s?.phase,
      grantedVersions: s?.grantedVersions,
      versions: s?.versions,
      observedGeneration: s?.observedGeneration,
      // A trial's expiry follows from when it started, which differs between runs.
      effectiveExpiresAt: trial ? (s?.effectiveExpiresAt ? 'set' : undefined) : s?.effectiveExpiresAt,
      trialStarted: s?.trialStartedAt !== undefined,
      conditions: conditions(s?.conditions).map((c) => (trial ? { ...c, message: c.message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME') } : c)),
    };
  }
  for (const c of customers.filter((x) => mine(x.metadata.name))) {
    state[`Customer/${c.metadata.name}`] = {
      finalizers: c.metadata.finalizers,
      namespaces: c.status?.namespaces,
      activeLicenses: c.status?.activeLicenses,
      trials: (c.status?.trials ?? []).map((t) => ({ application: t.application, license: t.license })),
      conditions: conditions(c.status?.conditions),
    };
  }
  for (const p of policies.filter((x) => mine(x.metadata.namespace))) {
    // Every policy gates every Application of the cluster: compare this run's repositories only.
    const repositories = Object.fromEntries(Object.entries(p.spec.repositories).filter(([repo]) => repo.includes(`/${prefix}-`)));
    state[`VersionPolicy/${p.metadata.namespace}`] = { labels: p.metadata.labels, spec: { ...p.spec, repositories } };
  }
  for (const s of secrets.filter((x) => mine(x.metadata?.namespace))) state[`Secret/${s.metadata!.namespace}/${s.metadata!.name}`] = { labels: s.metadata?.labels, type: s.type, data: s.data };
  for (const ns of namespaces.filter((x) => mine(x.metadata?.name))) {
    const labels = Object.fromEntries(Object.entries(ns.metadata?.labels ?? {}).filter(([k]) => k.startsWith('licensegate.dev/')));
    state[`Namespace/${ns.metadata!.name}`] = { labels, createdByOperator: ns.metadata?.annotations?.['licensegate.dev/created-by-operator'] };
  }
  return JSON.parse(JSON.stringify(state).replaceAll(`${prefix}-`, 'RUN-')) as Record<string, unknown>;
}

/** Whether a snapshot shows a converged run of `customers` customers. */
function converged(state: Record<string, unknown>, customers: number): boolean {
  const licenses = Object.entries(state).filter(([k]) => k.startsWith('License/'));
  const cs = Object.entries(state).filter(([k]) => k.startsWith('Customer/'));
  if (licenses.length !== 2 * customers || cs.length !== customers) return false;
  if (!licenses.every(([, v]) => (v as { observedGeneration?: number }).observedGeneration !== undefined)) return false;
  if (!cs.every(([, v]) => (v as { conditions: { type: string; status: string }[] }).conditions.some((c) => c.type === 'Ready' && c.status === 'True'))) return false;
  const policies = Object.keys(state).filter((k) => k.startsWith('VersionPolicy/')).length;
  return policies === customers + Math.ceil(customers / 5);
}

/** Polls until the run's snapshot is converged and unchanged for `stableMs`; returns it. */
async function untilConverged(kc: KubeConfig, prefix: string, customers: number, timeoutMs: number, stableMs = 3_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let since = 0;
  for (;;) {
    const state = await snapshot(kc, prefix);
    const text = JSON.stringify(state);
    if (converged(state, customers)) {
      if (text !== last) since = Date.now();
      else if (Date.now() - since >= stableMs) return state;
    }
    last = text;
    if (Date.now() > deadline) throw new Error(`run ${prefix} did not converge within ${timeoutMs} ms`);
    await sleep(500);
  }
}

async function countEvents(kc: KubeConfig, prefix: string): Promise<number> {
  const events = await kc.makeApiClient(CoreV1Api).listEventForAllNamespaces();
  return events.items.filter((e) => (e.involvedObject.name ?? '').startsWith(`${prefix}-`)).reduce((n, e) => n + (e.count ?? 1), 0);
}

/** A small seeded PRNG (mulberry32), so kill times repeat for a seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function diff(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = JSON.stringify(a[key]);
    const y = JSON.stringify(b[key]);
    if (x !== y) out.push(`${key}: undisturbed ${x?.slice(0, 300)} vs killed ${y?.slice(0, 300)}`);
  }
  return out;
}

function spawnOperator(options: ChaosOptions): OperatorProcess {
  return new OperatorProcess({ repoRoot: options.repoRoot, kubeconfigPath: options.kubeconfigPath, resyncSeconds: 600, workers: undefined, tsx: true });
}

async function writesOf(operator: OperatorProcess): Promise<number> {
  try {
    return (await operator.metrics()).filter((s) => s.name === 'licensegate_api_writes_total').reduce((n, s) => n + s.value, 0);
  } catch {
    return 0;
  }
}

/** Runs both: undisturbed, then with kills; compares. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const expiresAt = rfc3339(Date.now() + 400 * DAY);
  await applyObjects(options.kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } }], { fieldManager: 'chaos' });

  // Undisturbed.
  const calmPrefix = `${options.prefix}-calm`;
  let operator = spawnOperator(options);
  await operator.port;
  let started = performance.now();
  await applyObjects(options.kc, chaosObjects(calmPrefix, options.customers, expiresAt), { fieldManager: 'chaos' });
  const calmState = await untilConverged(options.kc, calmPrefix, options.customers, timeoutMs);
  const calm: RunFigures = { convergedMs: Math.round(performance.now() - started), events: await countEvents(options.kc, calmPrefix), writes: await writesOf(operator) };
  await operator.stop();
  log(`undisturbed: ${options.customers} customers converged in ${calm.convergedMs} ms, ${calm.writes} writes, ${calm.events} events`);

  // Killed at random moments within the undisturbed convergence time, restarted each time at once.
  const killPrefix = `${options.prefix}-kill`;
  const next = random(options.seed);
  const kills = Array.from({ length: options.kills }, () => Math.round(next() * calm.convergedMs)).sort((a, b) => a - b);
  operator = spawnOperator(options);
  await operator.port;
  started = performance.now();
  const applying = applyObjects(options.kc, chaosObjects(killPrefix, options.customers, expiresAt), { fieldManager: 'chaos' });
  let writes = 0;
  let restarts = 0;
  for (const at of kills) {
    const wait = at - (performance.now() - started);
    if (wait > 0) await sleep(wait);
    writes += await writesOf(operator);
    operator.child.kill('SIGKILL');
    await operator.exited;
    operator = spawnOperator(options);
    restarts++;
    await operator.port;
  }
  await applying;
  const killState = await untilConverged(options.kc, killPrefix, options.customers, timeoutMs);
  const convergedMs = Math.round(performance.now() - started);
  writes += await writesOf(operator);
  await operator.stop();
  const chaos = { convergedMs, events: await countEvents(options.kc, killPrefix), writes, kills, restarts };
  log(`killed ${restarts} times (at ${kills.join(', ')} ms): converged in ${convergedMs} ms, ${writes} writes, ${chaos.events} events`);
  const differences = diff(calmState, killState);
  return { calm, chaos, differences, objects: Object.keys(calmState).length };
}
