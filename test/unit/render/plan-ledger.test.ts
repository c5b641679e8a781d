/** The trial record lives in the Ledger: it outlives the License (same name or not) and the Customer. */
import { describe, expect, it } from 'vitest';
import type { LedgerSpec, License, LicenseSpec } from '../../../src/api/index.js';
import { Reason } from '../../../src/licensing/reasons.js';
import { planCustomer, type CustomerWorld } from '../../../src/render/plan.js';
import { DAY, NOW, after, application, before, customer, iso, license } from '../fixtures.js';

const analytics = application('analytics', { versions: [{ version: '1.0.0' }] });

function world(licenses: License[], ledger?: LedgerSpec): CustomerWorld {
  return {
    now: NOW,
    customerName: 'globex',
    customer: customer('globex'),
    applications: [analytics],
    licenses,
    credentials: new Map(),
    namespaceOwners: new Map(),
    operatorNamespace: 'licensegate-system',
    ...(ledger ? { ledgers: new Map([['analytics', ledger]]) } : {}),
  };
}

const trial = (name: string, uid: string, spec: Partial<LicenseSpec> = {}): License => {
  const l = license(name, { type: 'Trial', ...spec });
  return { ...l, metadata: { ...l.metadata, uid } };
};
const ledgerWith = (licenseName: string, uid: string | undefined, startedAt: Date): LedgerSpec => ({
  customer: 'globex',
  application: 'analytics',
  trial: { license: licenseName, ...(uid ? { licenseUid: uid } : {}), startedAt: iso(startedAt) },
});
const valid = (plan: ReturnType<typeof planCustomer>, name: string) => plan.licenseStatuses.get(name)?.conditions?.find((c) => c.type === 'Valid');

describe('trials in the Ledger', () => {
  it('asks for the first activation to be recorded in the Ledger, with the License UID', () => {
    const plan = planCustomer(world([trial('t', 'uid-1')]));
    expect(plan.trials).toEqual([{ application: 'analytics', license: 't', licenseUid: 'uid-1', startedAt: NOW }]);
  });

  it('counts the trial from the Ledger start, whatever the status says', () => {
    const plan = planCustomer(world([trial('t', 'uid-1')], ledgerWith('t', 'uid-1', before(10 * DAY))));
    expect(plan.licenseStatuses.get('t')).toMatchObject({ phase: 'Active', trialStartedAt: iso(before(10 * DAY)), effectiveExpiresAt: iso(after(4 * DAY)) });
    expect(plan.trials).toEqual([]);
  });

  it('refuses a re-created Trial License of the same name (another UID)', () => {
    const plan = planCustomer(world([trial('t', 'uid-2')], ledgerWith('t', 'uid-1', before(DAY))));
    expect(plan.licenseStatuses.get('t')?.phase).toBe('Invalid');
    expect(valid(plan, 't')).toMatchObject({ reason: Reason.TrialAlreadyUsed, message: expect.stringContaining('re-created') });
    expect(plan.trials).toEqual([]);
  });

  it('refuses a Trial License of another name, even when the Customer was re-created (no status trials)', () => {
    const plan = planCustomer(world([trial('other', 'uid-9')], ledgerWith('t', 'uid-1', before(100 * DAY))));
    expect(plan.licenseStatuses.get('other')?.phase).toBe('Invalid');
    expect(valid(plan, 'other')).toMatchObject({ reason: Reason.TrialAlreadyUsed, message: expect.stringContaining('License t') });
  });

  it('accepts a record without UID (written before UIDs were kept) for the License of that name', () => {
    const plan = planCustomer(world([trial('t', 'uid-1')], ledgerWith('t', undefined, before(DAY))));
    expect(plan.licenseStatuses.get('t')?.phase).toBe('Active');
  });

  it('does not let a Commercial License take the trial or be refused by it', () => {
    const commercial = license('c', {});
    const plan = planCustomer(world([commercial], ledgerWith('t', 'uid-1', before(DAY))));
    expect(plan.licenseStatuses.get('c')?.phase).toBe('Active');
    expect(plan.trials).toEqual([]);
  });
});
