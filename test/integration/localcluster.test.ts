import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { findRepoRoot, isAlive, readClusterState, startLocalCluster } from '../../src/localcluster/index.js';
import { eventually, isNotFound, kubeConfig, uniqueName } from './context.js';

const run = promisify(execFile);

describe('the shared local cluster', () => {
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  it('serves requests', async () => {
    const names = (await core().listNamespace()).items.map((ns) => ns.metadata?.name);
    expect(names).toEqual(expect.arrayContaining(['default', 'kube-system']));
  });

  it('finishes deleting a namespace (namespace controller)', async () => {
    const name = uniqueName('ns-delete');
    await core().createNamespace({ body: { metadata: { name } } });
    await core().deleteNamespace({ name });
    await eventually(async () => {
      const error = await core().readNamespace({ name }).then(
        (ns) => new Error(`namespace still ${ns.status?.phase}`),
        (e: unknown) => e,
      );
      if (!isNotFound(error)) throw error;
    });
  });

  it('makes a ReplicaSet for a Deployment (deployment controller)', async () => {
    const namespace = uniqueName('ns-deploy');
    await core().createNamespace({ body: { metadata: { name: namespace } } });
    try {
      const apps = kubeConfig().makeApiClient(AppsV1Api);
      const labels = { app: 'web' };
      const deployment = await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'web' },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
          },
        },
      });
      const replicaSets = await eventually(async () => {
        const list = await apps.listNamespacedReplicaSet({ namespace });
        expect(list.items).toHaveLength(1);
        return list.items;
      });
      expect(replicaSets[0]?.metadata?.ownerReferences?.[0]?.uid).toBe(deployment.metadata?.uid);
    } finally {
      await core().deleteNamespace({ name: namespace });
    }
  });

  it('deletes dependents of a deleted owner (garbage collector)', async () => {
    const namespace = uniqueName('ns-gc');
    await core().createNamespace({ body: { metadata: { name: namespace } } });
    try {
      const owner = await core().createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
      await core().createNamespacedConfigMap({
        namespace,
        body: {
          metadata: {
            name: 'dependent',
            ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }],
          },
        },
      });
      await core().deleteNamespacedConfigMap({ namespace, name: 'owner' });
      await eventually(async () => {
        const error = await core().readNamespacedConfigMap({ namespace, name: 'dependent' }).then(
          () => new Error('dependent still present'),
          (e: unknown) => e,
        );
        if (!isNotFound(error)) throw error;
      });
    } finally {
      await core().deleteNamespace({ name: namespace });
    }
  });
});

describe('startLocalCluster', () => {
  it('starts a second cluster from cached binaries in under 30 s and cleans up on stop', { timeout: 120_000 }, async () => {
    const started = performance.now();
    const cluster = await startLocalCluster();
    const seconds = (performance.now() - started) / 1000;
    console.info(`warm local cluster start (etcd + kube-apiserver + kube-controller-manager): ${seconds.toFixed(1)} s`);
    try {
      expect(seconds).toBeLessThan(30);
      const config = new KubeConfig();
      config.loadFromFile(cluster.kubeconfigPath);
      // CA-verified TLS and token auth: the kubeconfig alone is enough.
      const namespaces = await config.makeApiClient(CoreV1Api).listNamespace();
      expect(namespaces.items.length).toBeGreaterThan(0);
      expect(cluster.pids).toHaveLength(3);
    } finally {
      await cluster.stop();
    }
    for (const pid of cluster.pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(cluster.dir)).toBe(false);
  });
});

describe('npm run cluster:up / cluster:down', () => {
  const repoRoot = findRepoRoot();
  const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
  const cli = (command: 'up' | 'down', stateDir: string) =>
    run(tsx, ['src/localcluster/cli.ts', command], {
      cwd: repoRoot,
      env: { ...process.env, LICENSEGATE_STATE_DIR: stateDir },
    });

  it('leaves a running cluster behind after up, and nothing after down', { timeout: 180_000 }, async () => {
    const parent = mkdtempSync(join(tmpdir(), 'licensegate-state-'));
    // Not created yet, as on a fresh clone.
    const stateDir = join(parent, '.licensegate');
    try {
      const { stdout } = await cli('up', stateDir);
      const kubeconfigPath = join(stateDir, 'kubeconfig');
      expect(stdout.trim()).toBe(`export KUBECONFIG=${kubeconfigPath}`);
      const state = readClusterState(stateDir);
      expect(state?.pids).toHaveLength(3);
      // The CLI has exited; its cluster still answers.
      expect(state!.pids.every(isAlive)).toBe(true);
      const config = new KubeConfig();
      config.loadFromFile(kubeconfigPath);
      await config.makeApiClient(CoreV1Api).listNamespace();

      // A second up reuses the running cluster.
      await cli('up', stateDir);
      expect(readClusterState(stateDir)?.pids).toEqual(state!.pids);

      await cli('down', stateDir);
      // isAlive, not kill(pid, 0): orphans may stay zombies where PID 1 does not reap them.
      expect(state!.pids.filter(isAlive)).toEqual([]);
      expect(existsSync(join(stateDir, 'cluster.json'))).toBe(false);
      expect(existsSync(kubeconfigPath)).toBe(false);
      expect(existsSync(state!.dir)).toBe(false);

      // down is idempotent.
      await cli('down', stateDir);
    } finally {
      // Leave no cluster behind when an assertion above failed.
      if (existsSync(join(stateDir, 'cluster.json'))) await cli('down', stateDir).catch(() => undefined);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
