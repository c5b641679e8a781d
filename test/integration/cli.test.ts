/**
 * The licensegate CLI as a process against the real API server and a running operator:
 * cluster-id, activate (signed, tampered), info and usage as JSON and as text for people.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, ledgerName, type License } from '../../src/api/index.js';
import { ExitCode } from '../../src/cli/errors.js';
import { applyObjects } from '../../src/kube/apply.js';
import { Reason } from '../../src/licensing/reasons.js';
import type { Operator } from '../../src/operator.js';
import { runCli } from '../cli-process.js';
import { kubeConfig, uniqueName } from './context.js';
import { binaryCacheDir, readControlPlaneVersions } from '../../src/localcluster/index.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kubectl = (() => {
  const cached = join(binaryCacheDir(readControlPlaneVersions()), 'kubectl');
  return existsSync(cached) ? cached : 'kubectl';
})();

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const dir = mkdtempSync(join(tmpdir(), 'licensegate-cli-it-'));
const env = { KUBECONFIG: inject('kubeconfig') };
const cli = (args: string[]) => runCli(args, { env });

const app = uniqueName('cli-app');
const otherApp = uniqueName('cli-other-app');
const customer = uniqueName('cli-cust');
const name = uniqueName('cli-lic');
let operator: Operator;
let clusterId: string;
let keyId: string;

const licenseYaml = (licenseName: string, extra = '') => `apiVersion: licensegate.dev/v1alpha1
kind: License
metadata:
  name: ${licenseName}
spec:
  customer: ${customer}
  application: ${app}
  versions: ["1.0.0", "1.1.0"]
  expiresAt: "2027-06-30T00:00:00Z"
  gracePeriod: 7d
  limits:
    maxReplicas: 10
${extra}`;

beforeAll(async () => {
  const keygen = await cli(['keygen', '--out', join(dir, 'keys')]);
  expect(keygen.code, keygen.stderr).toBe(0);
  keyId = /key id: (\S+)/.exec(keygen.stdout)![1]!;
  clusterId = (await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata!.uid!;
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.test.example/${app}/server`], versions: [{ version: '1.0.0' }, { version: '1.1.0' }] } },
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: otherApp }, spec: { images: [`registry.test.example/${otherApp}/server`], versions: [{ version: '1.0.0' }, { version: '1.1.0' }] } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
  ], { fieldManager: 'test' });
  operator = await startOperator(kc, { LICENSEGATE_SIGNING_PUBLIC_KEYS: join(dir, 'keys', 'vendor.pub') });
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('cluster-id prints the kube-system namespace UID', async () => {
  const result = await cli(['cluster-id']);
  expect(result).toMatchObject({ code: 0, stdout: `${clusterId}\n` });
});

describe('activate', () => {
  let signed: string;

  beforeAll(async () => {
    writeFileSync(join(dir, 'license.yaml'), licenseYaml(name));
    const result = await cli(['sign', '--key', join(dir, 'keys', 'vendor.key'), '--cluster-id', clusterId, '--sequence', '5', join(dir, 'license.yaml')]);
    expect(result.code, result.stderr).toBe(0);
    signed = join(dir, 'signed.yaml');
    writeFileSync(signed, result.stdout);
  }, 120_000);

  it('applies a signed License, waits for the verdict and exits 0 when Active', async () => {
    const result = await cli(['activate', signed]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`license ${name}: Active \\(Active\\)`));
  });

  it('a tampered file: Invalid (SignatureMismatch), exit 1; the signed file restores it', async () => {
    const tampered = join(dir, 'tampered.yaml');
    writeFileSync(tampered, readFileSync(signed, 'utf8').replace('2027-06-30', '2099-06-30'));
    const bad = await cli(['activate', tampered]);
    expect(bad.code).toBe(ExitCode.Failure);
    expect(bad.stdout).toContain(`Invalid (${Reason.SignatureMismatch})`);
    const good = await cli(['activate', signed]);
    expect(good.code, good.stderr).toBe(0);
  });

  it('the output of sign applies as is with kubectl apply -f', async () => {
    // Another application: a newer signed License of the same customer and application would supersede the one above.
    const other = uniqueName('kubectl-applied');
    writeFileSync(join(dir, 'other.yaml'), licenseYaml(other).replace(`application: ${app}`, `application: ${otherApp}`));
    const signedOther = await cli(['sign', '--key', join(dir, 'keys', 'vendor.key'), join(dir, 'other.yaml')]);
    expect(signedOther.code, signedOther.stderr).toBe(0);
    writeFileSync(join(dir, 'other.signed.yaml'), signedOther.stdout);
    execFileSync(kubectl, ['--kubeconfig', inject('kubeconfig'), 'apply', '-f', join(dir, 'other.signed.yaml')], { encoding: 'utf8' });
    await watchUntilPasses<License>(kc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      expect(all.find((l) => l.metadata.name === other)?.status?.phase).toBe('Active');
    });
  });

  it('a bad file applies nothing', async () => {
    const two = join(dir, 'two.yaml');
    const other = uniqueName('never-applied');
    writeFileSync(two, `${licenseYaml(other)}---\n${licenseYaml(uniqueName('never-applied'))}`);
    const result = await cli(['activate', two]);
    expect(result.code).toBe(ExitCode.Usage);
    await expect(custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: other })).rejects.toThrow();
  });
});

describe('info', () => {
  it('-o json: customer, application, phase, versions, expiry, grace, limits, signature', async () => {
    const result = await cli(['info', name, '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      name,
      customer,
      application: app,
      phase: 'Active',
      reason: Reason.Active,
      versions: ['1.0.0', '1.1.0'],
      grantedVersions: ['1.0.0', '1.1.0'],
      effectiveExpiresAt: '2027-06-30T00:00:00Z',
      gracePeriod: '7d',
      graceEndsAt: '2027-07-07T00:00:00Z',
      limits: [{ limit: 'maxReplicas', allowed: 10 }],
      signature: { signed: true, keyId, sequence: 5, cluster: clusterId, boundToThisCluster: true, verdict: 'Accepted' },
    });
  });

  it('for people: the same facts as labelled lines (content, not layout)', async () => {
    const result = await cli(['info', name]);
    expect(result.code, result.stderr).toBe(0);
    const field = (label: string) => new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(result.stdout)?.[1];
    expect(field('Customer')).toBe(customer);
    expect(field('Phase')).toContain('Active');
    expect(field('Granted')).toBe('1.0.0, 1.1.0');
    expect(field('Expires')).toBe('2027-06-30T00:00:00Z');
    expect(field('Grace period')).toMatch(/^7d .*2027-07-07T00:00:00Z/);
    expect(field('Limits')).toContain('maxReplicas');
    expect(field('Signature')).toMatch(new RegExp(`Accepted.*${keyId}.*sequence 5.*this cluster`));
  });

  it('without a name lists every License, one row each', async () => {
    const result = await cli(['info']);
    expect(result.code, result.stderr).toBe(0);
    const row = result.stdout.split('\n').find((line) => line.startsWith(`${name} `));
    expect(row?.split(/\s+/)).toEqual(expect.arrayContaining([customer, app, 'Active', 'Accepted']));
  });

  it('an unknown License: one line, exit 1', async () => {
    const result = await cli(['info', 'no-such-license']);
    expect(result.code).toBe(ExitCode.Failure);
    expect(result.stderr.trim()).toMatch(/^licensegate: License "no-such-license" does not exist/);
  });
});

describe('usage', () => {
  const billedCustomer = uniqueName('billed');
  const billed = uniqueName('billed-lic');
  const liveCustomer = uniqueName('live');
  const live = uniqueName('live-lic');

  beforeAll(async () => {
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: billed }, spec: { customer: billedCustomer, application: app, versions: ['*'] } },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: live }, spec: { customer: liveCustomer, application: app, versions: ['*'] } },
      {
        apiVersion: API_VERSION,
        kind: 'Ledger',
        metadata: { name: ledgerName(billedCustomer, app) },
        spec: {
          customer: billedCustomer,
          application: app,
          usage: [
            { month: '2026-10', peakReplicas: 4, peakNamespaces: 2, seatHolders: ['ann', 'bob'], replicaHours: 1200.5 },
            { month: '2026-11', peakReplicas: 6, peakNamespaces: 3, seatHolders: ['ann'], replicaHours: 2000 },
          ],
        },
      },
    ], { fieldManager: 'test' });
    await custom.patchClusterCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: 'licenses', name: live, body: { status: { usage: { replicas: 3, namespaces: ['a', 'b'], seats: 1 } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  });

  it('-o json: the Ledger\'s monthly records for a license', async () => {
    const result = await cli(['usage', '--license', billed, '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      { customer: billedCustomer, application: app, month: '2026-10', peakReplicas: 4, peakNamespaces: 2, seatHolders: 2, replicaHours: 1200.5, source: 'ledger' },
      { customer: billedCustomer, application: app, month: '2026-11', peakReplicas: 6, peakNamespaces: 3, seatHolders: 1, replicaHours: 2000, source: 'ledger' },
    ]);
  });

  it('--month picks one month; -o csv has a header and one line per record', async () => {
    const result = await cli(['usage', '--license', billed, '--month', '2026-11', '-o', 'csv']);
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n');
    expect(header).toBe('customer,application,month,peakReplicas,peakNamespaces,seatHolders,replicaHours,source');
    expect(rows).toEqual([`${billedCustomer},${app},2026-11,6,3,1,2000,ledger`]);
  });

  it('falls back to the License\'s live status.usage when the Ledger has no record', async () => {
    const result = await cli(['usage', '--license', live, '-o', 'yaml']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/peakReplicas: 3/);
    expect(result.stdout).toMatch(/peakNamespaces: 2/);
    expect(result.stdout).toMatch(/source: live/);
  });

  it('for people: a table holding the records', async () => {
    const result = await cli(['usage']);
    expect(result.code, result.stderr).toBe(0);
    const row = result.stdout.split('\n').find((line) => line.startsWith(billedCustomer) && line.includes('2026-10'));
    expect(row?.split(/\s+/)).toEqual([billedCustomer, app, '2026-10', '4', '2', '2', '1200.5', 'ledger']);
  });
});
