import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/index.js';
import { installCrds } from '../src/kube/crds.js';
import { startLocalCluster } from '../src/localcluster/index.js';
import { Fixture, OPERATOR_NAMESPACE, CREDENTIALS_SECRET } from './lib/fixtures.js';
import { forEachBounded } from './lib/pool.js';
import { OperatorProcess } from './lib/operator-process.js';
import { sum } from './lib/metrics.js';
import { ClusterWatch } from './lib/watch.js';
import { memory } from './lib/proc.js';
import { spawn } from 'node:child_process';

const cluster = await startLocalCluster({ controllerManager: false });
const dir = '/tmp/lgheap'; mkdirSync(dir, { recursive: true });
let op: OperatorProcess | undefined;
try {
  const kc = new KubeConfig(); kc.loadFromFile(cluster.kubeconfigPath);
  await installCrds(kc);
  const core = kc.makeApiClient(CoreV1Api); const custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } });
  await core.createNamespacedSecret({ namespace: OPERATOR_NAMESPACE, body: { metadata: { name: CREDENTIALS_SECRET }, type: 'kubernetes.io/basic-auth', stringData: { username: 'u', password: 'p' } } });
  const fx = new Fixture(300);
  const create = (plural: string, body: object) => custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural, body });
  for (const a of fx.applicationObjects()) await create('applications', a);
  await forEachBounded(fx.customers, 16, async (c) => void (await create('customers', fx.customerObject(c))));
  await forEachBounded([...fx.licenses.values()], 16, async (l) => void (await create('licenses', fx.licenseObject(l))));
  const watch = new ClusterWatch(kc, fx); await watch.start();
  // Same spawn as the bench, plus --heapsnapshot-signal (a snapshot runs a full GC first).
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
  op = new OperatorProcess({ repoRoot: '/work/main', kubeconfigPath: cluster.kubeconfigPath, resyncSeconds: 10, workers: undefined });
  await op.guard(watch.converged());
  await sleep(3000);
  const snap = async (label: string) => {
    process.kill(op!.pid, 'SIGUSR2');
    await sleep(8000);
    const s = await op!.metrics();
    const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort();
    const last = files.at(-1)!;
    console.log(`${label}: heap used after GC+snapshot ${(sum(s, 'licensegate_nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(1)} MiB, snapshot file ${(statSync(`${dir}/${last}`).size / 2 ** 20).toFixed(1)} MiB, RSS ${(memory(op!.pid)!.rss / 2 ** 20).toFixed(1)} MiB, reconciles ${sum(s, 'licensegate_reconcile_total')}`);
  };
  await snap('converged');
  await sleep(60_000); await snap('after ~6 more resyncs');
  await sleep(60_000); await snap('after ~12 more resyncs');
  await watch.stop();
} finally {
  await op?.stop();
  await cluster.stop();
}
