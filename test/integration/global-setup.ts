import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { KubeConfig } from '@kubernetes/client-node';
import { installCrds } from '../../src/kube/crds.js';
import { startLocalCluster } from '../../src/localcluster/index.js';

/**
 * One control plane for the whole integration run. With `LICENSEGATE_TEST_USE_KUBECONFIG=1` the
 * tests use the cluster in `KUBECONFIG` (a single file, e.g. kind's) instead of starting one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { kubeconfig, teardown } = await targetCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  await installCrds(kc);
  project.provide('kubeconfig', kubeconfig);
  return teardown;
}

async function targetCluster(): Promise<{ kubeconfig: string; teardown: () => Promise<void> }> {
  if (process.env['LICENSEGATE_TEST_USE_KUBECONFIG'] === '1') {
    const kubeconfig = process.env['KUBECONFIG'];
    // Refuse instead of quietly starting a local cluster: the caller asked for a specific one.
    if (!kubeconfig) {
      throw new Error('LICENSEGATE_TEST_USE_KUBECONFIG=1 needs KUBECONFIG set to the kubeconfig file of the cluster to test against');
    }
    return { kubeconfig: resolve(kubeconfig), teardown: async () => {} };
  }
  const cluster = await startLocalCluster();
  return { kubeconfig: cluster.kubeconfigPath, teardown: () => cluster.stop() };
}
