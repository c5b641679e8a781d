/**
 * Where the end-to-end suite runs: by default a local cluster with a node and a registry,
 * started with the `cluster:up --node` CLI (and stopped with `cluster:down`, checking that
 * nothing is left on the machine); with `LICENSEGATE_TEST_USE_KUBECONFIG=1`, the cluster in
 * KUBECONFIG (e.g. kind) and the registry named by environment variables:
 *
 *   LICENSEGATE_TEST_REGISTRY            host[:port] tests push to (plain HTTP)
 *   LICENSEGATE_TEST_REGISTRY_PULL       host[:port] nodes pull from, if different (kind: the registry container's name)
 *   LICENSEGATE_TEST_REGISTRY_USERNAME   a user that may push and pull
 *   LICENSEGATE_TEST_REGISTRY_PASSWORD
 *   LICENSEGATE_TEST_OPERATOR_IMAGE      optional: an operator image already pushed (as nodes pull it); else built with buildah
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readClusterState } from '../../src/localcluster/index.js';
import { nodeLeftovers } from '../../src/localcluster/node-host.js';

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface E2eRegistry {
  /** Where tests push. */
  pushHost: string;
  /** Where nodes pull from: what image references and pull secrets name. */
  pullHost: string;
  username: string;
  password: string;
}

export interface E2eEnvironment {
  kubeconfig: string;
  registry: E2eRegistry;
  /** Seconds `cluster:up --node` took (undefined on an existing cluster). */
  startSeconds?: number;
  /** Stops what this environment started; returns what was left on the machine (empty = clean). */
  stop(): Promise<string[]>;
}

export async function startEnvironment(): Promise<E2eEnvironment> {
  if (process.env['LICENSEGATE_TEST_USE_KUBECONFIG'] === '1') return existingCluster();
  const parent = mkdtempSync(join(tmpdir(), 'licensegate-e2e-'));
  const stateDir = join(parent, '.licensegate');
  const cli = (...args: string[]) =>
    run(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['src/localcluster/cli.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, LICENSEGATE_STATE_DIR: stateDir },
      timeout: 600_000,
    });
  const started = performance.now();
  try {
    await cli('up', '--node');
  } catch (error) {
    await cli('down').catch(() => undefined);
    rmSync(parent, { recursive: true, force: true });
    throw error;
  }
  const startSeconds = (performance.now() - started) / 1000;
  const state = readClusterState(stateDir);
  if (!state?.registry || !state.node) throw new Error(`cluster:up --node recorded no registry or node in ${stateDir}`);
  const { registry, node } = state;
  return {
    kubeconfig: state.kubeconfigPath,
    registry: { pushHost: registry.host, pullHost: registry.host, username: registry.username, password: registry.password },
    startSeconds,
    async stop() {
      await cli('down');
      const left = nodeLeftovers(node);
      if (existsSync(state.dir)) left.push(`directory ${state.dir}`);
      rmSync(parent, { recursive: true, force: true });
      return left;
    },
  };
}

function existingCluster(): E2eEnvironment {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`LICENSEGATE_TEST_USE_KUBECONFIG=1: the e2e suite needs ${name} (see test/e2e/environment.ts)`);
    return value;
  };
  const pushHost = need('LICENSEGATE_TEST_REGISTRY');
  return {
    kubeconfig: resolve(need('KUBECONFIG')),
    registry: {
      pushHost,
      pullHost: process.env['LICENSEGATE_TEST_REGISTRY_PULL'] || pushHost,
      username: need('LICENSEGATE_TEST_REGISTRY_USERNAME'),
      password: need('LICENSEGATE_TEST_REGISTRY_PASSWORD'),
    },
    stop: async () => [],
  };
}

/**
 * The operator image as nodes pull it: LICENSEGATE_TEST_OPERATOR_IMAGE, else built from the
 * Dockerfile with buildah (test/images/build-operator-image.sh) and pushed to the registry.
 */
export async function operatorImage(registry: E2eRegistry): Promise<{ reference: string; buildSeconds?: number; sizeBytes?: number }> {
  const given = process.env['LICENSEGATE_TEST_OPERATOR_IMAGE'];
  if (given) return { reference: given };
  const started = performance.now();
  const { stdout } = await run('bash', [join(repoRoot, 'test', 'images', 'build-operator-image.sh'), 'e2e'], { timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024 });
  const buildSeconds = (performance.now() - started) / 1000;
  const local = stdout.trim().split('\n').pop()!;
  const { stdout: size } = await run('buildah', ['inspect', '--type', 'image', '--format', '{{.Size}}', local]).catch(() => ({ stdout: '' }));
  const path = 'licensegate/licensegate:e2e';
  await run('buildah', ['push', '--quiet', '--tls-verify=false', '--creds', `${registry.username}:${registry.password}`, local, `docker://${registry.pushHost}/${path}`], {
    timeout: 300_000,
  });
  return { reference: `${registry.pullHost}/${path}`, buildSeconds, ...(Number(size) > 0 ? { sizeBytes: Number(size) } : {}) };
}
