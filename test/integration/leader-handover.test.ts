/**
 * Two real operator processes share one Lease: only the leader writes, and killing it hands
 * the work to the other within the lease duration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { kubeConfig, pollUntil, uniqueName } from './context.js';
import { watchUntil } from './operator-harness.js';

const kc = kubeConfig();
const coordination = kc.makeApiClient(CoordinationV1Api);
const repoRoot = join(import.meta.dirname, '..', '..');
const LEASE_SECONDS = 3;
const leaseName = uniqueName('lg-leader');

interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  port: Promise<number>;
}

const processes: OperatorProcess[] = [];

function spawnOperator(identity: string): OperatorProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'main.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      KUBECONFIG: inject('kubeconfig'),
      LICENSEGATE_IDENTITY: identity,
      LICENSEGATE_LEASE_NAME: leaseName,
      LICENSEGATE_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
      LICENSEGATE_HTTP_PORT: '0',
      // Two processes on one host: the webhook (on by default) would want the same port; it is not what this test is about.
      LICENSEGATE_WEBHOOK: 'false',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The first log line that carries the HTTP port tells where /metrics is.
  const port = new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (line.includes('"operator starting"')) resolve(JSON.parse(line).port as number);
      }
    });
    child.once('exit', (code) => reject(new Error(`operator ${identity} exited with ${code}`)));
  });
  port.catch(() => undefined);
  const proc = { identity, child, port };
  processes.push(proc);
  return proc;
}

async function metric(proc: OperatorProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${await proc.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function holder(): Promise<string | undefined> {
  try {
    const lease = await coordination.readNamespacedLease({ name: leaseName, namespace: 'licensegate-system' });
    return lease.spec?.holderIdentity ?? undefined;
  } catch {
    return undefined;
  }
}

afterAll(() => {
  for (const p of processes) p.child.kill('SIGKILL');
});

describe('two operator processes', () => {
  it('only the leader writes; killing it hands over within the lease duration', async () => {
    await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }], { fieldManager: 'test' });
    const a = spawnOperator('operator-a');
    const b = spawnOperator('operator-b');
    await Promise.all([a.port, b.port]);
    const leaderId = await pollUntil(holder, 30_000, 100);
    const leader = leaderId === a.identity ? a : b;
    const follower = leader === a ? b : a;

    // A change only the leader acts on.
    const app = uniqueName('ha-app');
    const customer = uniqueName('ha-cust');
    const license = uniqueName('ha-lic');
    const grants = (tags: string[]) => (all: VersionPolicy[]) =>
      JSON.stringify(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[`registry.test.example/${app}/server`]?.allowedTags) === JSON.stringify(tags) ? true : undefined;
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.test.example/${app}/server`], versions: [{ version: '1.0.0' }, { version: '1.1.0' }] } },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntil(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, grants(['1.0.0']), 30_000);
    expect(await metric(leader, 'licensegate_api_writes_total')).toBeGreaterThan(0);
    expect(await metric(follower, 'licensegate_api_writes_total')).toBe(0);
    expect(await metric(leader, 'licensegate_leader')).toBe(1);
    expect(await metric(follower, 'licensegate_leader')).toBe(0);

    // Kill the leader without a chance to release the lease.
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await pollUntil(async () => ((await holder()) === follower.identity ? true : undefined), 3 * LEASE_SECONDS * 1000, 100);
    const handoverMs = Date.now() - killedAt;
    console.log(`leader handover took ${handoverMs} ms (lease ${LEASE_SECONDS} s)`);
    // The lease may have been renewed just before the kill: a full duration plus one retry period.
    expect(handoverMs).toBeLessThan(LEASE_SECONDS * 1000 + 1000);

    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0', '1.1.0'] } },
    ], { fieldManager: 'test' });
    await watchUntil(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, grants(['1.0.0', '1.1.0']), 30_000);
    expect(await metric(follower, 'licensegate_leader')).toBe(1);
  });
});
