import { describe, expect, it } from 'vitest';
import type { LicenseSpec } from '../../../src/api/index.js';
import {
  DEFAULT_TRIAL_DAYS,
  EXPIRING_SOON_DAYS,
  evaluateLicense,
  type LicenseContext,
  type LicenseEvaluation,
} from '../../../src/licensing/evaluate.js';
import { Reason } from '../../../src/licensing/reasons.js';
import { DAY, HOUR, MINUTE, NOW, after, application, before, iso, license } from '../fixtures.js';

const APP = application('analytics', {
  versions: ['2.3.0', '2.4.0', '2.4.1', '2.5.0', '2.6.0', '3.0.0-rc.1', '3.0.0'].map((version) => ({ version })),
});
const ALL = ['2.3.0', '2.4.0', '2.4.1', '2.5.0', '2.6.0', '3.0.0-rc.1', '3.0.0'];

function ctx(overrides: Partial<LicenseContext> = {}): LicenseContext {
  return {
    now: NOW,
    application: APP,
    customerExists: true,
    trialStartedAt: undefined,
    earlierTrial: undefined,
    requiredPhases: {},
    ...overrides,
  };
}

const evaluate = (spec: Partial<LicenseSpec>, overrides: Partial<LicenseContext> = {}) =>
  evaluateLicense(license('globex-analytics', spec), ctx(overrides));

/** The fields a case pins down; the rest are checked where they matter. */
type Expectation = Partial<LicenseEvaluation>;

describe('evaluateLicense: phases', () => {
  it.each<[string, Partial<LicenseSpec>, Partial<LicenseContext>, Expectation]>([
    [
      'perpetual and unconditional: Active, every version, no transition ahead',
      {},
      {},
      { phase: 'Active', reason: Reason.Active, grantedVersions: ALL, effectiveExpiresAt: undefined, enforceAt: undefined, keepsPullSecret: true, nextTransitionAt: undefined },
    ],
    [
      'ranges and exact versions resolve against the catalogue, minus revoked ones',
      { versions: ['2.4.1', '>=2.5.0 <3.0.0'], revokedVersions: ['2.5.0'] },
      {},
      { phase: 'Active', grantedVersions: ['2.4.1', '2.6.0'] },
    ],
    [
      'before notBefore: Pending, nothing granted, next transition at notBefore',
      { notBefore: iso(after(DAY)) },
      {},
      { phase: 'Pending', reason: Reason.NotYetValid, grantedVersions: [], keepsPullSecret: false, nextTransitionAt: after(DAY) },
    ],
    [
      'at exactly notBefore: Active',
      { notBefore: iso(NOW) },
      {},
      { phase: 'Active', reason: Reason.Active, grantedVersions: ALL },
    ],
    [
      'one second before expiresAt: Active',
      { expiresAt: iso(after(1000)) },
      {},
      { phase: 'Active', reason: Reason.Active, effectiveExpiresAt: after(1000), nextTransitionAt: after(1000) },
    ],
    [
      'at exactly expiresAt: Expired, nothing granted, pull secret gone',
      { expiresAt: iso(NOW) },
      {},
      { phase: 'Expired', reason: Reason.Expired, grantedVersions: [], keepsPullSecret: false, effectiveExpiresAt: NOW, enforceAt: NOW, nextTransitionAt: undefined },
    ],
    [
      'expired with a grace period still running: Expired/InGracePeriod, pull secret kept',
      { expiresAt: iso(before(HOUR)), gracePeriod: '72h' },
      {},
      { phase: 'Expired', reason: Reason.InGracePeriod, grantedVersions: [], keepsPullSecret: true, enforceAt: after(71 * HOUR), nextTransitionAt: after(71 * HOUR) },
    ],
    [
      'grace period just before its end',
      { expiresAt: iso(before(3 * DAY - 1000)), gracePeriod: '3d' },
      {},
      { phase: 'Expired', reason: Reason.InGracePeriod, keepsPullSecret: true, nextTransitionAt: after(1000) },
    ],
    [
      'at exactly expiry + grace: Expired, pull secret gone',
      { expiresAt: iso(before(90 * MINUTE)), gracePeriod: '1h30m' },
      {},
      { phase: 'Expired', reason: Reason.Expired, keepsPullSecret: false, enforceAt: NOW, nextTransitionAt: undefined },
    ],
    [
      'after expiry + grace: Expired',
      { expiresAt: iso(before(10 * DAY)), gracePeriod: '7d' },
      {},
      { phase: 'Expired', reason: Reason.Expired, keepsPullSecret: false, nextTransitionAt: undefined },
    ],
    [
      'a grace period does not delay expiry itself: new deployments are refused from expiresAt on',
      { expiresAt: iso(NOW), gracePeriod: '1.5h' },
      {},
      { phase: 'Expired', reason: Reason.InGracePeriod, grantedVersions: [], keepsPullSecret: true, enforceAt: after(90 * MINUTE) },
    ],
    [
      'suspended: Suspended',
      { suspended: true },
      {},
      { phase: 'Suspended', reason: Reason.Suspended, grantedVersions: [], keepsPullSecret: false },
    ],
    [
      'suspended wins over Pending',
      { suspended: true, notBefore: iso(after(DAY)) },
      {},
      { phase: 'Suspended', reason: Reason.Suspended },
    ],
    [
      'suspended wins over Expired, even during grace (no pull secret)',
      { suspended: true, expiresAt: iso(before(HOUR)), gracePeriod: '72h' },
      {},
      { phase: 'Suspended', reason: Reason.Suspended, keepsPullSecret: false },
    ],
    [
      'suspended wins over a missing base license being inactive',
      { suspended: true, requires: ['base'] },
      { requiredPhases: { base: 'Pending' } },
      { phase: 'Suspended', reason: Reason.Suspended },
    ],
  ])('%s', (_name, spec, context, expected) => {
    expect(evaluate(spec, context)).toMatchObject(expected);
  });
});

describe('evaluateLicense: Invalid', () => {
  const nothingGranted = { phase: 'Invalid', grantedVersions: [], keepsPullSecret: false, nextTransitionAt: undefined, effectiveExpiresAt: undefined };

  it.each<[string, Partial<LicenseSpec>, Partial<LicenseContext>, string, string]>([
    ['the customer does not exist', {}, { customerExists: false }, Reason.CustomerNotFound, 'Customer "globex"'],
    ['the application does not exist', {}, { application: undefined }, Reason.ApplicationNotFound, 'Application "analytics"'],
    ['a constraint the CRD pattern lets through but semver rejects', { versions: ['1.2.3-01'] }, {}, Reason.InvalidVersionConstraint, '"1.2.3-01"'],
    ['no versions at all', { versions: [] }, {}, Reason.InvalidSpec, 'spec.versions'],
    ['a version that is no range', { versions: ['latest'] }, {}, Reason.InvalidSpec, 'spec.versions.0'],
    ['a timestamp that is no timestamp', { expiresAt: 'next tuesday' }, {}, Reason.InvalidSpec, 'spec.expiresAt'],
    ['a grace period that is no duration', { gracePeriod: '3 days' }, {}, Reason.InvalidSpec, 'spec.gracePeriod'],
    ['an unknown type', { type: 'Forever' as LicenseSpec['type'] }, {}, Reason.InvalidSpec, 'spec.type'],
    ['a revoked version with a leading v', { revokedVersions: ['v2.4.1'] }, {}, Reason.InvalidSpec, 'spec.revokedVersions.0'],
    ['a required base license that does not exist', { requires: ['base'] }, { requiredPhases: {} }, Reason.RequiredLicenseNotFound, '"base"'],
    ['a required base license known to be absent', { requires: ['base'] }, { requiredPhases: { base: undefined } }, Reason.RequiredLicenseNotFound, '"base"'],
    ['a second trial of the same application', { type: 'Trial' }, { earlierTrial: 'globex-analytics-trial' }, Reason.TrialAlreadyUsed, 'globex-analytics-trial'],
  ])('%s', (_name, spec, context, reason, mentions) => {
    const e = evaluate(spec, context);
    expect(e).toMatchObject({ ...nothingGranted, reason });
    expect(e.message).toContain(mentions);
  });

  it('takes a spec missing required fields (as a client may send) without throwing', () => {
    const broken = license('broken');
    (broken.spec as Partial<LicenseSpec>).customer = undefined;
    expect(evaluateLicense(broken, ctx())).toMatchObject({ ...nothingGranted, reason: Reason.InvalidSpec, message: expect.stringContaining('spec.customer') });
  });

  it('is Invalid even when it would be Suspended or Expired', () => {
    expect(evaluate({ suspended: true }, { customerExists: false }).phase).toBe('Invalid');
    expect(evaluate({ expiresAt: iso(before(DAY)) }, { application: undefined }).phase).toBe('Invalid');
  });

  it('does not start a trial clock', () => {
    expect(evaluate({ type: 'Trial' }, { customerExists: false }).trialStartedAt).toBeUndefined();
    expect(evaluate({ type: 'Trial' }, { earlierTrial: 'first' }).trialStartedAt).toBeUndefined();
  });
});

describe('evaluateLicense: trials', () => {
  it.each<[string, Partial<LicenseSpec>, Partial<LicenseContext>, Expectation]>([
    [
      'a first activation starts the clock now, for the default 14 days',
      { type: 'Trial' },
      { trialStartedAt: undefined },
      { phase: 'Active', reason: Reason.Active, trialStartedAt: NOW, effectiveExpiresAt: after(DEFAULT_TRIAL_DAYS * DAY), keepsPullSecret: true },
    ],
    [
      'trialDays sets the length',
      { type: 'Trial', trialDays: 30 },
      {},
      { phase: 'Active', trialStartedAt: NOW, effectiveExpiresAt: after(30 * DAY) },
    ],
    [
      'a running trial keeps its recorded start',
      { type: 'Trial' },
      { trialStartedAt: before(10 * DAY) },
      { phase: 'Active', trialStartedAt: before(10 * DAY), effectiveExpiresAt: after(4 * DAY), expiringWithinDays: 7 },
    ],
    [
      'a trial ends trialDays after its start: Expired/TrialEnded',
      { type: 'Trial' },
      { trialStartedAt: before(14 * DAY) },
      { phase: 'Expired', reason: Reason.TrialEnded, grantedVersions: [], keepsPullSecret: false, effectiveExpiresAt: NOW, nextTransitionAt: undefined },
    ],
    [
      'an ended trial with a grace period: InGracePeriod',
      { type: 'Trial', trialDays: 7, gracePeriod: '2d' },
      { trialStartedAt: before(8 * DAY) },
      { phase: 'Expired', reason: Reason.InGracePeriod, keepsPullSecret: true, effectiveExpiresAt: before(DAY), enforceAt: after(DAY), nextTransitionAt: after(DAY) },
    ],
    [
      'expiresAt before the trial end wins: min(expiresAt, trial end)',
      { type: 'Trial', expiresAt: iso(after(3 * DAY)) },
      {},
      { phase: 'Active', trialStartedAt: NOW, effectiveExpiresAt: after(3 * DAY) },
    ],
    [
      'the trial end before expiresAt wins',
      { type: 'Trial', expiresAt: iso(after(300 * DAY)) },
      {},
      { phase: 'Active', effectiveExpiresAt: after(14 * DAY) },
    ],
    [
      'past an expiresAt that came before the trial end: Expired, not TrialEnded',
      { type: 'Trial', expiresAt: iso(before(DAY)) },
      { trialStartedAt: before(2 * DAY) },
      { phase: 'Expired', reason: Reason.Expired, effectiveExpiresAt: before(DAY) },
    ],
    [
      'a trial with notBefore in the future does not start its clock',
      { type: 'Trial', notBefore: iso(after(5 * DAY)) },
      {},
      { phase: 'Pending', reason: Reason.NotYetValid, trialStartedAt: undefined, effectiveExpiresAt: undefined, nextTransitionAt: after(5 * DAY) },
    ],
    [
      'a trial starts its clock at notBefore, not at creation',
      { type: 'Trial', notBefore: iso(NOW) },
      {},
      { phase: 'Active', trialStartedAt: NOW, effectiveExpiresAt: after(14 * DAY) },
    ],
    [
      'a suspended trial does not start its clock',
      { type: 'Trial', suspended: true },
      {},
      { phase: 'Suspended', trialStartedAt: undefined },
    ],
    [
      'a trial waiting for its base license does not start its clock',
      { type: 'Trial', requires: ['base'] },
      { requiredPhases: { base: 'Pending' } },
      { phase: 'Pending', reason: Reason.RequiredLicenseInactive, trialStartedAt: undefined, effectiveExpiresAt: undefined },
    ],
    [
      'a trial whose base license is Active starts its clock',
      { type: 'Trial', requires: ['base'] },
      { requiredPhases: { base: 'Active' } },
      { phase: 'Active', trialStartedAt: NOW },
    ],
    [
      'a trial created after its expiresAt never activates and does not start its clock',
      { type: 'Trial', expiresAt: iso(before(DAY)) },
      {},
      { phase: 'Expired', reason: Reason.Expired, trialStartedAt: undefined, effectiveExpiresAt: before(DAY) },
    ],
    [
      'a suspended trial that already started keeps its clock running',
      { type: 'Trial', suspended: true },
      { trialStartedAt: before(DAY) },
      { phase: 'Suspended', trialStartedAt: before(DAY), effectiveExpiresAt: after(13 * DAY) },
    ],
    [
      'a Commercial license never records a trial start',
      { type: 'Commercial' },
      {},
      { phase: 'Active', trialStartedAt: undefined, effectiveExpiresAt: undefined },
    ],
  ])('%s', (_name, spec, context, expected) => {
    expect(evaluate(spec, context)).toMatchObject(expected);
  });
});

describe('evaluateLicense: add-ons (spec.requires)', () => {
  it.each<[string, Record<string, 'Active' | 'Pending' | 'Expired' | 'Suspended' | 'Invalid'>, Expectation]>([
    ['every base Active: Active', { base: 'Active', other: 'Active' }, { phase: 'Active', reason: Reason.Active, keepsPullSecret: true }],
    ['a base Pending: Pending', { base: 'Pending' }, { phase: 'Pending', reason: Reason.RequiredLicenseInactive, grantedVersions: [], keepsPullSecret: false }],
    ['a base Suspended: Pending', { base: 'Suspended' }, { phase: 'Pending', reason: Reason.RequiredLicenseInactive }],
    ['a base Expired: Pending', { base: 'Expired' }, { phase: 'Pending', reason: Reason.RequiredLicenseInactive }],
    ['a base Invalid: Pending', { base: 'Invalid' }, { phase: 'Pending', reason: Reason.RequiredLicenseInactive }],
    ['one of two bases inactive: Pending', { base: 'Active', other: 'Suspended' }, { phase: 'Pending', reason: Reason.RequiredLicenseInactive }],
  ])('%s', (_name, requiredPhases, expected) => {
    const e = evaluate({ requires: Object.keys(requiredPhases) }, { requiredPhases });
    expect(e).toMatchObject(expected);
    for (const [name, phase] of Object.entries(requiredPhases)) {
      if (phase !== 'Active') expect(e.message).toContain(`${name} (${phase})`);
    }
  });

  it('its own expiry still decides over an inactive base', () => {
    expect(evaluate({ requires: ['base'], expiresAt: iso(before(DAY)) }, { requiredPhases: { base: 'Pending' } })).toMatchObject({
      phase: 'Expired',
      reason: Reason.Expired,
    });
  });
});

describe('evaluateLicense: expiring soon', () => {
  it('has thresholds of 30, 7 and 1 days', () => {
    expect(EXPIRING_SOON_DAYS).toEqual([30, 7, 1]);
  });

  it.each<[string, number, number | undefined, string, Date]>([
    ['31 days left', 31 * DAY, undefined, Reason.NotExpiringSoon, after(DAY)],
    ['30 days and a second left', 30 * DAY + 1000, undefined, Reason.NotExpiringSoon, after(1000)],
    ['exactly 30 days left', 30 * DAY, 30, Reason.ExpiresWithin30Days, after(23 * DAY)],
    ['29 days left', 29 * DAY, 30, Reason.ExpiresWithin30Days, after(22 * DAY)],
    ['7 days and a second left', 7 * DAY + 1000, 30, Reason.ExpiresWithin30Days, after(1000)],
    ['exactly 7 days left', 7 * DAY, 7, Reason.ExpiresWithin7Days, after(6 * DAY)],
    ['2 days left', 2 * DAY, 7, Reason.ExpiresWithin7Days, after(DAY)],
    ['exactly 1 day left', DAY, 1, Reason.ExpiresWithin1Day, after(DAY)],
    ['one minute left', MINUTE, 1, Reason.ExpiresWithin1Day, after(MINUTE)],
  ])('%s', (_name, left, days, reason, next) => {
    const e = evaluate({ expiresAt: iso(after(left)) });
    expect(e).toMatchObject({ phase: 'Active', expiringWithinDays: days, expiringSoonReason: reason, nextTransitionAt: next });
  });

  it.each<[string, Partial<LicenseSpec>, Partial<LicenseContext>]>([
    ['Pending', { notBefore: iso(after(HOUR)), expiresAt: iso(after(2 * DAY)) }, {}],
    ['Suspended', { suspended: true, expiresAt: iso(after(2 * DAY)) }, {}],
    ['Pending on a base license', { requires: ['base'], expiresAt: iso(after(2 * DAY)) }, { requiredPhases: { base: 'Pending' } }],
    ['Expired', { expiresAt: iso(before(HOUR)), gracePeriod: '1d' }, {}],
    ['perpetual', {}, {}],
  ])('is not reported for a license that is %s', (_name, spec, context) => {
    expect(evaluate(spec, context)).toMatchObject({ expiringWithinDays: undefined, expiringSoonReason: Reason.NotExpiringSoon });
  });
});

describe('evaluateLicense: nextTransitionAt', () => {
  it.each<[string, Partial<LicenseSpec>, Partial<LicenseContext>, Date | undefined]>([
    ['notBefore comes before any expiry threshold', { notBefore: iso(after(HOUR)), expiresAt: iso(after(90 * DAY)) }, {}, after(HOUR)],
    ['the 30-day threshold comes before notBefore', { notBefore: iso(after(70 * DAY)), expiresAt: iso(after(90 * DAY)) }, {}, after(60 * DAY)],
    ['the 7-day threshold once the 30-day one has passed', { expiresAt: iso(after(10 * DAY)) }, {}, after(3 * DAY)],
    ['the 1-day threshold once the 7-day one has passed', { expiresAt: iso(after(5 * DAY)) }, {}, after(4 * DAY)],
    ['the expiry itself once every threshold has passed', { expiresAt: iso(after(HOUR)) }, {}, after(HOUR)],
    ['expiry + grace once expired', { expiresAt: iso(before(HOUR)), gracePeriod: '2h' }, {}, after(HOUR)],
    ['nothing once expiry + grace has passed', { expiresAt: iso(before(3 * HOUR)), gracePeriod: '2h' }, {}, undefined],
    ['nothing for a perpetual license', {}, {}, undefined],
    ['the trial end thresholds for a trial', { type: 'Trial' }, {}, after(7 * DAY)],
    ['the grace end after a trial ended', { type: 'Trial', gracePeriod: '1d' }, { trialStartedAt: before(14 * DAY + HOUR) }, after(23 * HOUR)],
  ])('is %s', (_name, spec, context, expected) => {
    expect(evaluate(spec, context).nextTransitionAt).toEqual(expected);
  });

  it('is never in the past or now', () => {
    for (const offset of [-40, -31, -30, -8, -7, -2, -1, 0, 1, 2, 7, 30, 31]) {
      const e = evaluate({ notBefore: iso(before(100 * DAY)), expiresAt: iso(after(offset * DAY)), gracePeriod: '1d' });
      if (e.nextTransitionAt) expect(e.nextTransitionAt.getTime()).toBeGreaterThan(NOW.getTime());
    }
  });

  it('changes the evaluation when reached: phase or expiring-soon reason differ just before and at it', () => {
    const spec: Partial<LicenseSpec> = { notBefore: iso(after(HOUR)), expiresAt: iso(after(40 * DAY)), gracePeriod: '12h' };
    let now = NOW;
    const seen: string[] = [];
    for (let step = 0; step < 10; step++) {
      const e = evaluate(spec, { now });
      seen.push(`${e.phase}/${e.reason}/${e.expiringSoonReason}`);
      if (!e.nextTransitionAt) break;
      const justBefore = evaluate(spec, { now: new Date(e.nextTransitionAt.getTime() - 1) });
      expect(`${justBefore.phase}/${justBefore.reason}/${justBefore.expiringSoonReason}`).toBe(seen.at(-1));
      now = e.nextTransitionAt;
    }
    expect(seen).toEqual([
      `Pending/${Reason.NotYetValid}/${Reason.NotExpiringSoon}`,
      `Active/${Reason.Active}/${Reason.NotExpiringSoon}`,
      `Active/${Reason.Active}/${Reason.ExpiresWithin30Days}`,
      `Active/${Reason.Active}/${Reason.ExpiresWithin7Days}`,
      `Active/${Reason.Active}/${Reason.ExpiresWithin1Day}`,
      `Expired/${Reason.InGracePeriod}/${Reason.NotExpiringSoon}`,
      `Expired/${Reason.Expired}/${Reason.NotExpiringSoon}`,
    ]);
  });
});

describe('evaluateLicense: purity', () => {
  it('gives equal results for equal inputs and does not touch the License', () => {
    const l = license('globex-analytics', { type: 'Trial', versions: ['^2.4.0'], expiresAt: iso(after(20 * DAY)) });
    const snapshot = structuredClone(l);
    expect(evaluateLicense(l, ctx())).toEqual(evaluateLicense(l, ctx()));
    expect(l).toEqual(snapshot);
  });
});
