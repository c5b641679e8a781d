import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { License, LicenseSpec } from '../../../src/api/index.js';
import { Reason } from '../../../src/licensing/reasons.js';
import { keyIdOf, signLicense } from '../../../src/licensing/signature.js';
import { planCustomer, type CustomerWorld } from '../../../src/render/plan.js';
import { NOW, application, customer, license } from '../fixtures.js';

const vendor = generateKeyPairSync('ed25519');
const CLUSTER = 'cluster-uid-1';
const SIGNING = { keys: new Map([[keyIdOf(vendor.publicKey), vendor.publicKey]]), required: false, clusterId: CLUSTER };
const analytics = application('analytics', { versions: [{ version: '1.0.0' }, { version: '2.0.0' }] });

async function signed(name: string, sequence: number, spec: Partial<LicenseSpec> = {}): Promise<License> {
  const base = license(name, { versions: ['*'], ...spec });
  const signature = await signLicense(base, { privateKey: vendor.privateKey, sequence, issuedAt: NOW, cluster: CLUSTER });
  return { ...base, spec: { ...base.spec, signature } };
}

const world = (licenses: License[], overrides: Partial<CustomerWorld> = {}): CustomerWorld => ({
  now: NOW,
  customerName: 'globex',
  customer: customer('globex'),
  applications: [analytics],
  licenses,
  credentials: new Map(),
  namespaceOwners: new Map(),
  signing: SIGNING,
  ...overrides,
});

const phaseOf = (plan: ReturnType<typeof planCustomer>, name: string) => {
  const e = plan.evaluations.get(name)!;
  return { phase: e.phase, reason: e.reason, granted: e.grantedVersions };
};

describe('planCustomer: signed licenses', () => {
  it('a verified license is Active and its sequence is to be recorded', async () => {
    const plan = planCustomer(world([await signed('a', 3)]));
    expect(phaseOf(plan, 'a')).toEqual({ phase: 'Active', reason: Reason.Active, granted: ['1.0.0', '2.0.0'] });
    expect(plan.signedSequences).toEqual(new Map([['analytics', 3]]));
  });

  it('an edited signed license is Invalid, grants nothing and records nothing', async () => {
    const lic = await signed('a', 3);
    const plan = planCustomer(world([{ ...lic, spec: { ...lic.spec, expiresAt: '2099-01-01T00:00:00Z' } }]));
    expect(phaseOf(plan, 'a')).toEqual({ phase: 'Invalid', reason: Reason.SignatureMismatch, granted: [] });
    expect(plan.objects.filter((o) => o.kind === 'VersionPolicy').flatMap((p) => Object.values((p as { spec: { repositories: Record<string, { allowedTags: string[] }> } }).spec.repositories).flatMap((r) => r.allowedTags))).toEqual([]);
    expect(plan.signedSequences.size).toBe(0);
  });

  it('a sequence lower than the Ledger\'s is a Rollback; an equal one is not re-recorded', async () => {
    expect(phaseOf(planCustomer(world([await signed('a', 2)], { acceptedSequences: new Map([['analytics', 3]]) })), 'a').reason).toBe(Reason.Rollback);
    const same = planCustomer(world([await signed('a', 3)], { acceptedSequences: new Map([['analytics', 3]]) }));
    expect(phaseOf(same, 'a').phase).toBe('Active');
    expect(same.signedSequences.size).toBe(0);
  });

  it('two signed licenses of one application: the newer supersedes the older, whichever is seen first', async () => {
    const older = await signed('old', 2);
    const newer = await signed('new', 5);
    for (const order of [[older, newer], [newer, older]]) {
      const plan = planCustomer(world(order));
      expect(phaseOf(plan, 'old').reason).toBe(Reason.Rollback);
      expect(phaseOf(plan, 'new').phase).toBe('Active');
      expect(plan.signedSequences).toEqual(new Map([['analytics', 5]]));
    }
  });

  it('without configured keys a signed license is refused, never ignored', async () => {
    const plan = planCustomer(world([await signed('a', 1)], { signing: undefined }));
    expect(phaseOf(plan, 'a').reason).toBe(Reason.UnknownSigningKey);
  });

  it('signing required: an unsigned license is Invalid (SignatureRequired); a signed one still Active', async () => {
    const plan = planCustomer(world([license('plain', { versions: ['*'] }), await signed('a', 1)], { signing: { ...SIGNING, required: true } }));
    expect(phaseOf(plan, 'plain')).toEqual({ phase: 'Invalid', reason: Reason.SignatureRequired, granted: [] });
    expect(phaseOf(plan, 'a').phase).toBe('Active');
  });

  it('bound to another cluster: WrongCluster', async () => {
    const plan = planCustomer(world([await signed('a', 1)], { signing: { ...SIGNING, clusterId: 'other-uid' } }));
    expect(phaseOf(plan, 'a').reason).toBe(Reason.WrongCluster);
  });
});

describe('planCustomer: an on-premises customer in the vendor\'s cluster', () => {
  it('keeps its licenses evaluated but claims no namespace and writes nothing', async () => {
    const plan = planCustomer(world([license('onprem-lic', { versions: ['*'] })], { customer: customer('globex', { onPremises: true }) }));
    expect(plan.namespaces).toEqual([]);
    expect(plan.objects).toEqual([]);
    expect(plan.sweepPolicies).toEqual([]);
    expect(phaseOf(plan, 'onprem-lic').phase).toBe('Active');
    expect(plan.customerStatus?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'OnPremises' });
  });
});
