/**
 * Signed licenses on a real API server: the operator, given the vendor's public key, judges
 * each License by its signed payload. The attacker here is the customer's cluster admin, who
 * can edit, delete and re-apply Licenses at will.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type License, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { Reason } from '../../src/licensing/reasons.js';
import { signLicense } from '../../src/licensing/signature.js';
import type { Operator } from '../../src/operator.js';
import { kubeConfig, uniqueName } from './context.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const LICENSE_PATH = `/apis/${GROUP}/${VERSION}/licenses`;
const LEDGER_PATH = `/apis/${GROUP}/${VERSION}/ledgers`;
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;

const vendor = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'licensegate-signing-'));
const publicKeys = join(dir, 'vendor.pub');
writeFileSync(publicKeys, vendor.publicKey.export({ type: 'spki', format: 'pem' }) as string);

const app = uniqueName('signed-app');
const customer = uniqueName('signed-cust');
const repo = `registry.test.example/${app}/server`;
let clusterId: string;
let operator: Operator | undefined;

function licenseObject(name: string, spec: Record<string, unknown> = {}, cust = customer) {
  return { apiVersion: API_VERSION, kind: 'License', metadata: { name }, spec: { customer: cust, application: app, versions: ['1.0.0', '1.1.0'], ...spec } };
}

async function signed(object: ReturnType<typeof licenseObject>, options: { sequence?: number; cluster?: string; key?: KeyObject } = {}) {
  const signature = await signLicense(object, {
    privateKey: options.key ?? vendor.privateKey,
    sequence: options.sequence ?? 1,
    issuedAt: new Date('2026-11-30T10:00:00Z'),
    cluster: options.cluster ?? clusterId,
  });
  return { ...object, spec: { ...object.spec, signature } };
}

const apply = (...objects: object[]) => applyObjects(kc, objects as never, { fieldManager: 'vendor-file' });

/** Waits until the License has been judged with `phase` and `reason` (on its Active condition). */
async function expectJudged(name: string, phase: string, reason: string) {
  await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => {
    const status = all.find((l) => l.metadata.name === name)?.status;
    expect({ phase: status?.phase, reason: status?.conditions?.find((c) => c.type === 'Active')?.reason }).toEqual({ phase, reason });
  });
}

async function expectGranted(tags: string[]) {
  await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
    expect(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[repo]?.allowedTags).toEqual(tags);
  });
}

async function restartOperator(env: Record<string, string> = {}) {
  await operator?.stop();
  operator = await startOperator(kc, { LICENSEGATE_SIGNING_PUBLIC_KEYS: publicKeys, ...env });
}

beforeAll(async () => {
  clusterId = (await core.readNamespace({ name: 'kube-system' })).metadata!.uid!;
  await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }], { fieldManager: 'test' });
  await applyObjects(kc, [
    { apiVersion: API_VERSION, kind: 'Application', metadata: { name: app }, spec: { images: [`registry.test.example/${app}/server`], versions: ['1.0.0', '1.1.0', '2.0.0'].map((version) => ({ version })) } },
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
  ], { fieldManager: 'test' });
  await restartOperator();
});

afterAll(async () => {
  await operator?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a signed License', () => {
  const name = uniqueName('signed-lic');

  it('becomes Active and grants its versions', async () => {
    await apply(await signed(licenseObject(name, { expiresAt: '2027-06-30T00:00:00Z' }), { sequence: 1 }));
    await expectJudged(name, 'Active', Reason.Active);
    await expectGranted(['1.0.0', '1.1.0']);
  });

  it('edited in place (kubectl edit: expiresAt 2099) is Invalid (SignatureMismatch) and grants nothing', async () => {
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name, body: { spec: { expiresAt: '2099-01-01T00:00:00Z', versions: ['*'] } }, fieldManager: 'kubectl-edit' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await expectJudged(name, 'Invalid', Reason.SignatureMismatch);
    await expectGranted([]);
  });

  it('re-applying the signed file restores it', async () => {
    // What `kubectl apply --server-side --force-conflicts -f license.yaml` does.
    await applyObjects(kc, [await signed(licenseObject(name, { expiresAt: '2027-06-30T00:00:00Z' }), { sequence: 1 })], { fieldManager: 'kubectl-edit' });
    await expectJudged(name, 'Active', Reason.Active);
    await expectGranted(['1.0.0', '1.1.0']);
  });
});

describe('refused signatures', () => {
  it('a file signed by another key: UnknownSigningKey', async () => {
    const name = uniqueName('foreign-key');
    await apply(await signed(licenseObject(name), { key: stranger.privateKey }));
    await expectJudged(name, 'Invalid', Reason.UnknownSigningKey);
  });

  it('bound to another cluster id: WrongCluster', async () => {
    const name = uniqueName('other-cluster');
    await apply(await signed(licenseObject(name), { cluster: '00000000-0000-0000-0000-000000000000' }));
    await expectJudged(name, 'Invalid', Reason.WrongCluster);
  });
});

describe('rollback', () => {
  const cust = uniqueName('rollback-cust');
  const name = uniqueName('rollback-lic');

  beforeAll(async () => {
    await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: cust }, spec: {} }], { fieldManager: 'test' });
  });

  it('sequence 3 then 2: Rollback; the Ledger keeps 3', async () => {
    await apply(await signed(licenseObject(name, {}, cust), { sequence: 3 }));
    await expectJudged(name, 'Active', Reason.Active);
    await watchUntilPasses<Ledger>(kc, LEDGER_PATH, (all) => {
      expect(all.find((l) => l.metadata.name === ledgerName(cust, app))?.spec).toMatchObject({ customer: cust, application: app, signedSequence: 3 });
    });
    await apply(await signed(licenseObject(name, { versions: ['*'] }, cust), { sequence: 2 }));
    await expectJudged(name, 'Invalid', Reason.Rollback);
  });

  it('still Rollback after the License is deleted and the old file re-applied', async () => {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name });
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => expect(all.map((l) => l.metadata.name)).not.toContain(name));
    await apply(await signed(licenseObject(name, { versions: ['*'] }, cust), { sequence: 2 }));
    await expectJudged(name, 'Invalid', Reason.Rollback);
    const ledger = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: ledgerName(cust, app) })) as Ledger;
    expect(ledger.spec.signedSequence).toBe(3);
  });

  it('a newer sequence is accepted and raises the record', async () => {
    await apply(await signed(licenseObject(name, { versions: ['*'] }, cust), { sequence: 4 }));
    await expectJudged(name, 'Active', Reason.Active);
    await watchUntilPasses<Ledger>(kc, LEDGER_PATH, (all) => {
      expect(all.find((l) => l.metadata.name === ledgerName(cust, app))?.spec.signedSequence).toBe(4);
    });
  });
});

describe('signing.required', () => {
  const name = uniqueName('unsigned');

  it('an unsigned License is Invalid (SignatureRequired) and its grants are gone; signed ones stay Active', async () => {
    const signedName = uniqueName('still-signed');
    const cust = uniqueName('required-cust');
    await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Customer', metadata: { name: cust }, spec: {} }], { fieldManager: 'test' });
    await apply(licenseObject(name, {}, cust), await signed(licenseObject(signedName), { sequence: 9 }));
    await expectJudged(name, 'Active', Reason.Active);
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      expect(all.find((p) => p.metadata.namespace === cust)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0', '1.1.0']);
    });

    await restartOperator({ LICENSEGATE_SIGNING_REQUIRED: 'true' });
    await expectJudged(name, 'Invalid', Reason.SignatureRequired);
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      expect(all.find((p) => p.metadata.namespace === cust)?.spec.repositories[repo]?.allowedTags).toEqual([]);
    });
    await expectJudged(signedName, 'Active', Reason.Active);
  });
});
