import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalCluster } from '../../../src/localcluster/cluster.js';
import { isAlive } from '../../../src/localcluster/processes.js';

// Start-up failures, with shell scripts standing in for etcd: the success path needs the real
// binaries and lives in test/integration/localcluster.test.ts.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lg-cluster-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeEtcd(body: string): string {
  const path = join(dir, 'etcd');
  writeFileSync(path, `#!/bin/sh\necho $$ > ${join(dir, 'pid')}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The cluster temp dir, recovered from the log path the error message names. */
function clusterDirIn(message: string): string {
  const match = /(\S+)\/etcd\.log/.exec(message);
  if (!match?.[1]) throw new Error(`no log path in: ${message}`);
  return match[1];
}

describe('startLocalCluster failures', () => {
  it('reports an early exit with the last log lines and removes its temp dir', async () => {
    const etcd = fakeEtcd('echo "listen tcp: address already in use" >&2; exit 3');
    const error = (await startLocalCluster({ binaries: { etcd, kubeApiserver: etcd }, controllerManager: false }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toMatch(/etcd exited \(code 3, signal null\) before etcd \/health was ready/);
    expect(error.message).toContain('address already in use');
    expect(existsSync(clusterDirIn(error.message))).toBe(false);
  });

  it('times out, stops the process and removes its temp dir', async () => {
    const etcd = fakeEtcd('echo "waiting for peers"; exec sleep 30');
    const error = (await startLocalCluster({
      binaries: { etcd, kubeApiserver: etcd },
      controllerManager: false,
      startTimeoutMs: 500,
    }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/etcd \/health not ready after 500 ms/);
    expect(error.message).toContain('waiting for peers');
    expect(isAlive(Number(readFileSync(join(dir, 'pid'), 'utf8')))).toBe(false);
    expect(existsSync(clusterDirIn(error.message))).toBe(false);
  });

  it('refuses a controller-manager setting without its binary', async () => {
    const etcd = fakeEtcd('exit 0');
    await expect(startLocalCluster({ binaries: { etcd, kubeApiserver: etcd } })).rejects.toThrow(/no kubeControllerManager/);
  });
});
