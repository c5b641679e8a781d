/**
 * `npm start`: with KUBECONFIG set, runs the operator against that cluster. Without it,
 * starts the local control plane, installs the CRDs, applies examples/, runs the operator
 * and says how to look around.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { applyObjects, readYamlObjects } from './kube/apply.js';
import { installCrds } from './kube/crds.js';
import { binaryCacheDir, findRepoRoot, readControlPlaneVersions, serviceAccountKubeConfig, startLocalCluster, type LocalCluster } from './localcluster/index.js';
import { runOperator } from './run.js';

async function main(): Promise<void> {
  if (process.env.KUBECONFIG) {
    await runOperator();
    return;
  }
  console.error('licensegate: no KUBECONFIG set: starting a local control plane (etcd, kube-apiserver, kube-controller-manager)');
  const cluster = await startLocalCluster();
  try {
    await prepareAndRun(cluster);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

async function prepareAndRun(cluster: LocalCluster): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await installCrds(kc);
  // The operator runs as its ServiceAccount, so the admission policies can tell it from you (the admin).
  const operatorKc = await serviceAccountKubeConfig(kc, { namespace: 'licensegate-system', name: 'licensegate', clusterRole: 'cluster-admin' });
  const root = findRepoRoot();
  const examples = join(root, 'examples');
  const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(examples, f));
  await applyObjects(kc, await readYamlObjects(files), { fieldManager: 'licensegate-examples' });
  const cachedKubectl = join(binaryCacheDir(readControlPlaneVersions(root)), 'kubectl');
  const kubectl = existsSync(cachedKubectl) ? cachedKubectl : 'kubectl';
  console.error(`licensegate: examples applied. In another terminal:
  export KUBECONFIG=${cluster.kubeconfigPath}
  ${kubectl} get licenses,customers,applications
  ${kubectl} get versionpolicies -A -o yaml
  ${kubectl} -n globex-prod create deployment api --image=registry.acme.example/analytics/api:v2.5.0   # refused: 2.5.0 is revoked
  ${kubectl} -n globex-prod create deployment api --image=registry.acme.example/analytics/api:v2.6.0   # admitted
Stop with Ctrl-C (the control plane stops with it).`);
  if (process.env.LICENSEGATE_GATE_LISTEN) await startLocalGate(kc, process.env.LICENSEGATE_GATE_LISTEN);
  process.env.LICENSEGATE_HTTP_PORT ??= '0';
  process.env.LICENSEGATE_INSTALL_ADMISSION_POLICY ??= 'true';
  process.env.LICENSEGATE_LEADER_ELECTION ??= 'false';
  await runOperator(operatorKc, () => cluster.stop());
}

/**
 * LICENSEGATE_GATE_LISTEN=127.0.0.1:5000 npm start also runs the registry gate, plain HTTP on
 * loopback (LICENSEGATE_GATE_UPSTREAM_PLAIN_HTTP: upstream hosts without TLS, comma-separated).
 */
async function startLocalGate(kc: KubeConfig, listen: string): Promise<void> {
  const [{ parseListen }, { startGate }, { createLogger }] = await Promise.all([import('./cli/commands/gate.js'), import('./gate/run.js'), import('./logger.js')]);
  const { host, port } = parseListen(listen);
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) throw new Error(`LICENSEGATE_GATE_LISTEN=${listen}: npm start serves the gate over plain HTTP, so only on a loopback address`);
  const gate = await startGate({
    kc,
    namespace: 'licensegate-system',
    host,
    port,
    plainHttpUpstreams: (process.env.LICENSEGATE_GATE_UPSTREAM_PLAIN_HTTP ?? '').split(',').filter(Boolean),
    log: createLogger(process.env.LOG_LEVEL ?? 'info', 'licensegate-gate'),
  });
  console.error(`licensegate: registry gate serving on http://${host}:${gate.port} (Applications opt in with spec.registry.gate.host)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
