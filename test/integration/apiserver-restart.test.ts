/**
 * The API server restarts under a running operator: on a control plane of its own (so the
 * shared one is left alone), kube-apiserver is stopped and started again with the same
 * arguments, certificates and port. The operator recovers without a restart of its own,
 * converges the edits made after, and writes nothing when nothing changed.
 * (Watch expiry, 410 Gone, is covered in informer.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type License, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { installCrds } from '../../src/kube/crds.js';
import { startLocalCluster, type LocalCluster } from '../../src/localcluster/index.js';
import type { Operator } from '../../src/operator.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

let cluster: LocalCluster;
let kc: KubeConfig;
let operator: Operator | undefined;
let restarted: ChildProcess | undefined;
const repo = 'registry.test.example/restart/server';

/** The command line of a running process, from /proc. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');

async function apiserverAnswers(): Promise<boolean> {
  try {
    await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses' });
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  cluster = await startLocalCluster({ controllerManager: false });
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await installCrds(kc);
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: 'restart' }, spec: { images: [repo], versions: ['1.0.0', '1.1.0', '2.0.0'].map((version) => ({ version })) } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: 'restart' }, spec: {} },
    { apiVersion: API_VERSION, kind: 'License', metadata: { name: 'restart' }, spec: { customer: 'restart', application: 'restart', versions: ['1.0.0'] } },
  ], { fieldManager: 'test' });
  operator = await startOperator(kc);
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  restarted?.kill('SIGKILL');
  await cluster?.stop();
});

describe('an API server restart under a running operator', () => {
  it('is survived: edits after it converge, and nothing is rewritten needlessly', { timeout: 180_000 }, async () => {
    const grants = (tags: string[]) =>
      watchUntilPasses<VersionPolicy>(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, (all) => {
        expect(all.find((p) => p.metadata.namespace === 'restart')?.spec.repositories[repo]?.allowedTags).toEqual(tags);
      }, 60_000);
    await grants(['1.0.0']);
    await operator!.whenIdle();

    // Stop kube-apiserver (etcd keeps the data) and start it again the same way.
    const pid = cluster.pids[1]!;
    const [binary, ...args] = commandLine(pid);
    expect(binary).toContain('kube-apiserver');
    process.kill(pid, 'SIGTERM');
    await until(async () => !(await apiserverAnswers()), 30_000, 'API server down');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    restarted = spawn(binary!, args, { stdio: 'ignore' });
    await until(apiserverAnswers, 90_000, 'API server back');

    // Back up: the operator's watches resume; with nothing changed it writes nothing.
    const writesBefore = operator!.writer.writes;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await operator!.whenIdle();
    expect(operator!.writer.writes - writesBefore).toBe(0);

    // And it still follows edits.
    await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: 'restart', body: { spec: { versions: ['1.0.0', '1.1.0'] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await grants(['1.0.0', '1.1.0']);
    await watchUntilPasses<License>(kc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      const l = all.find((x) => x.metadata.name === 'restart');
      expect(l?.status?.observedGeneration).toBe(l?.metadata.generation);
      expect(l?.status?.grantedVersions).toEqual(['1.0.0', '1.1.0']);
    }, 60_000);
  });
});
