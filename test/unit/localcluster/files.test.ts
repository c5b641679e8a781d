import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderKubeconfig, LOCAL_CONTEXT } from '../../../src/localcluster/kubeconfig.js';
import { findRepoRoot } from '../../../src/localcluster/repo.js';
import { readClusterState, removeClusterState, STATE_FILE, writeClusterState } from '../../../src/localcluster/state.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lg-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('renderKubeconfig', () => {
  it('is a kubeconfig client-node loads with server, token and CA', () => {
    const config = new KubeConfig();
    config.loadFromString(renderKubeconfig({ server: 'https://127.0.0.1:6443', token: 't0k', caPem: 'PEM' }));
    expect(config.getCurrentContext()).toBe(LOCAL_CONTEXT);
    expect(config.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(Buffer.from(config.getCurrentCluster()?.caData ?? '', 'base64').toString()).toBe('PEM');
    expect(config.getCurrentUser()?.token).toBe('t0k');
  });
});

describe('cluster state file', () => {
  const state = { dir: '/tmp/x', kubeconfigPath: '/s/kubeconfig', server: 'https://127.0.0.1:1', pids: [10, 11], startedAt: 'now' };

  it('round-trips and is removed with its kubeconfig', () => {
    expect(readClusterState(dir)).toBeUndefined();
    writeClusterState(join(dir, 'state'), state);
    writeFileSync(join(dir, 'state', 'kubeconfig'), '');
    expect(readClusterState(join(dir, 'state'))).toEqual(state);
    removeClusterState(join(dir, 'state'));
    expect(readClusterState(join(dir, 'state'))).toBeUndefined();
  });

  it('refuses a file that is not a state file', () => {
    writeFileSync(join(dir, STATE_FILE), '{"pids":"nope"}');
    expect(() => readClusterState(dir)).toThrow(/not a licensegate cluster state file/);
  });
});

describe('findRepoRoot', () => {
  it('finds the repository from a nested directory and fails outside it', () => {
    const root = findRepoRoot();
    expect(findRepoRoot(join(root, 'src', 'localcluster'))).toBe(root);
    expect(() => findRepoRoot(dir)).toThrow(/cannot find the licensegate repository/);
  });
});
