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
import { binaryCacheDir, findRepoRoot, readControlPlaneVersions, startLocalCluster } from './localcluster/index.js';
import { runOperator } from './run.js';

async function main(): Promise<void> {
  if (process.env.KUBECONFIG) {
    await runOperator();
    return;
  }
  console.error('licensegate: no KUBECONFIG set: starting a local control plane (etcd, kube-apiserver, kube-controller-manager)');
  const cluster = await startLocalCluster();
  process.once('exit', () => void cluster.stop());
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await installCrds(kc);
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
Stop with Ctrl-C (the control plane stops with it).`);
  process.env.KUBECONFIG = cluster.kubeconfigPath;
  process.env.LICENSEGATE_HTTP_PORT ??= '0';
  await runOperator(kc);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
