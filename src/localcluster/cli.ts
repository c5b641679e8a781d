/**
 * `npm run cluster:up` / `npm run cluster:down`: a local control plane that outlives the
 * command, for `npm start` and manual poking. `up` prints `export KUBECONFIG=…` on stdout (all
 * else goes to stderr), so `eval "$(npm run -s cluster:up)"` works.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { parse } from 'yaml';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalCluster } from './cluster.js';
import { cleanUpNodeHost } from './node-host.js';
import { hostPathVolumeDirs, removeHostPathVolumeDirs } from './node.js';
import { commandLineMentions, isAlive, stopPids } from './processes.js';
import { stateDir } from './repo.js';
import { KUBECONFIG_FILE, readClusterState, removeClusterState, writeClusterState, type ClusterState } from './state.js';

const USAGE = 'usage: tsx src/localcluster/cli.ts up [--node] | down';

/**
 * Starts a detached cluster unless the recorded one still runs; returns the kubeconfig path.
 * With `node`, also a node and a registry (see `startLocalCluster`).
 */
export async function up(dir: string = stateDir(), options: { node?: boolean } = {}): Promise<string> {
  const existing = readClusterState(dir);
  if (existing) {
    if (livePids(existing.pids, existing.dir).length > 0) {
      if (options.node && !existing.node) {
        throw new Error(`a local cluster without a node already runs at ${existing.server}; npm run cluster:down first`);
      }
      process.stderr.write(`licensegate: local cluster already running at ${existing.server}\n`);
      return existing.kubeconfigPath;
    }
    // Left over from a crash or reboot: nothing to stop, only files (and a node's leftovers) to clear.
    cleanUp(dir, existing);
  }
  process.stderr.write(`licensegate: starting local control plane${options.node ? ', node and registry' : ''}\n`);
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const cluster = await startLocalCluster({ detached: true, kubeconfigPath: join(dir, KUBECONFIG_FILE), node: options.node ?? false });
  writeClusterState(dir, {
    dir: cluster.dir,
    kubeconfigPath: cluster.kubeconfigPath,
    server: cluster.server,
    pids: cluster.pids,
    startedAt: new Date().toISOString(),
    ...(cluster.registry ? { registry: cluster.registry } : {}),
    ...(cluster.node ? { node: { ...cluster.node, ...(cluster.kubeProxy ? { kubeProxy: cluster.kubeProxy } : {}) } } : {}),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`licensegate: local cluster running at ${cluster.server} after ${seconds} s (logs in ${cluster.dir})\n`);
  if (cluster.registry) {
    process.stderr.write(
      `licensegate: node ${cluster.node?.name} Ready; registry ${cluster.registry.host} (user and password in ${join(dir, 'cluster.json')})\n`,
    );
  }
  return cluster.kubeconfigPath;
}

/** Stops the recorded cluster and removes its files; does nothing when there is none. */
export async function down(dir: string = stateDir()): Promise<void> {
  const state = readClusterState(dir);
  if (!state) {
    removeClusterState(dir);
    process.stderr.write('licensegate: no local cluster recorded\n');
    return;
  }
  // A short grace: the data is throwaway, and the apiserver (and etcd, serving its watches)
  // would otherwise use all of a longer one.
  const volumes = state.node ? await hostPathVolumeDirs(state.server, kubeconfigToken(state.kubeconfigPath)) : [];
  await stopPids(livePids(state.pids, state.dir), 2_000);
  cleanUp(dir, state);
  removeHostPathVolumeDirs(volumes);
  process.stderr.write('licensegate: local cluster stopped\n');
}

/** Recorded pids that still run one of this cluster's processes (not a reused pid). */
function livePids(pids: readonly number[], clusterDir: string): number[] {
  return pids.filter((pid) => isAlive(pid) && commandLineMentions(pid, clusterDir));
}

/** The admin token of a kubeconfig the harness wrote ('' when unreadable: then nothing is asked of the API). */
function kubeconfigToken(path: string): string {
  try {
    const config = parse(readFileSync(path, 'utf8')) as { users?: { user?: { token?: string } }[] };
    return config.users?.[0]?.user?.token ?? '';
  } catch {
    return '';
  }
}

function cleanUp(stateDirectory: string, state: ClusterState): void {
  // Containers, shims, mounts, interfaces and iptables chains outlive the node's processes.
  if (state.node) cleanUpNodeHost(state.node, state.node.kubeProxy);
  rmSync(state.dir, { recursive: true, force: true });
  removeClusterState(stateDirectory);
}

async function main(argv: readonly string[]): Promise<number> {
  switch (argv[0]) {
    case 'up': {
      const flags = argv.slice(1);
      const unknown = flags.filter((flag) => flag !== '--node');
      if (unknown.length > 0) {
        process.stderr.write(`unknown option ${unknown.join(' ')}\n${USAGE}\n`);
        return 2;
      }
      process.stdout.write(`export KUBECONFIG=${resolve(await up(stateDir(), { node: flags.includes('--node') }))}\n`);
      return 0;
    }
    case 'down':
      await down();
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Node's default signal handling skips 'exit' listeners; exiting explicitly lets a half-started
  // cluster clean up after Ctrl-C (its detached processes do not get the terminal's SIGINT).
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.once(signal, () => process.exit(code));
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`licensegate: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
