/**
 * A License's state at a given time: phase, granted versions and when that next changes.
 * Pure: everything it needs, the clock included, comes in as arguments.
 */
import { licenseSpec, type Application, type License, type LicensePhase } from '../api/index.js';
import { DAY_MS, parseDuration } from './duration.js';
import { Reason } from './reasons.js';
import type { SignatureVerdict } from './signature.js';
import { resolveVersions } from './versions.js';

/** Expiring-soon thresholds, in days before the effective expiry, widest first. */
export const EXPIRING_SOON_DAYS = [30, 7, 1] as const;
const EXPIRING_SOON_REASON = {
  30: Reason.ExpiresWithin30Days,
  7: Reason.ExpiresWithin7Days,
  1: Reason.ExpiresWithin1Day,
} as const;

export const DEFAULT_TRIAL_DAYS = 14;

/** What the world around one License looks like, as far as its evaluation needs. */
export interface LicenseContext {
  now: Date;
  /** The License's Application; undefined when it does not exist. */
  application: Application | undefined;
  customerExists: boolean;
  /** When this Trial was first activated (from status), if it was. */
  trialStartedAt: Date | undefined;
  /** Name of an older Trial of the same customer and application, which makes this one invalid. */
  earlierTrial: string | undefined;
  /** Phase of each license named in spec.requires; undefined when it does not exist. */
  requiredPhases: Record<string, LicensePhase | undefined>;
  /**
   * The License's signature, judged once by the caller (checkLicenseSignature): a refused
   * signature makes the license Invalid whatever its spec says. Undefined means unsigned and
   * not required.
   */
  signature?: SignatureVerdict;
}

/** The result of evaluating a License. */
export interface LicenseEvaluation {
  phase: LicensePhase;
  reason: Reason;
  message: string;
  /** Catalogue versions granted now: empty unless Active. */
  grantedVersions: string[];
  /** What spec.versions resolves to whatever the phase: running workloads keep these during grace. */
  resolvedVersions: string[];
  effectiveExpiresAt: Date | undefined;
  /** When running workloads become violations: effective expiry plus grace. */
  enforceAt: Date | undefined;
  /** Whether customer namespaces keep this license's pull secret: while Active and during grace. */
  keepsPullSecret: boolean;
  /** Set when this evaluation activates a Trial for the first time. */
  trialStartedAt: Date | undefined;
  /** The expiring-soon threshold (days) crossed, if any. */
  expiringWithinDays: (typeof EXPIRING_SOON_DAYS)[number] | undefined;
  expiringSoonReason: Reason;
  /** The next instant at which this evaluation would come out differently. */
  nextTransitionAt: Date | undefined;
}

type Verdict = Pick<LicenseEvaluation, 'phase' | 'reason' | 'message'>;

const invalid = (reason: Reason, message: string): Verdict => ({ phase: 'Invalid', reason, message });

/** Evaluates `license` in `ctx`. Never throws on bad input: that yields phase Invalid. */
export function evaluateLicense(license: License, ctx: LicenseContext): LicenseEvaluation {
  const nothing: LicenseEvaluation = {
    phase: 'Invalid',
    reason: Reason.InvalidSpec,
    message: '',
    grantedVersions: [],
    resolvedVersions: [],
    effectiveExpiresAt: undefined,
    enforceAt: undefined,
    keepsPullSecret: false,
    trialStartedAt: ctx.trialStartedAt,
    expiringWithinDays: undefined,
    expiringSoonReason: Reason.NotExpiringSoon,
    nextTransitionAt: undefined,
  };
  const parsed = licenseSpec.safeParse(license.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ...nothing, message: `spec.${issue.path.join('.')}: ${issue.message}` };
  }
  const spec = parsed.data;
  const now = ctx.now.getTime();
  // A tampered, foreign, rolled-back or (when required) unsigned license grants nothing.
  if (ctx.signature?.state === 'Refused') return { ...nothing, ...invalid(ctx.signature.reason, ctx.signature.message) };

  const structural = checkReferences(license, ctx);
  if (structural) return { ...nothing, ...structural };
  const app = ctx.application!;
  const resolution = resolveVersions(
    spec.versions,
    app.spec.versions.map((v) => v.version),
    spec.revokedVersions ?? [],
  );
  if (!resolution.ok) return { ...nothing, ...invalid(Reason.InvalidVersionConstraint, resolution.message) };

  const notBefore = spec.notBefore ? Date.parse(spec.notBefore) : undefined;
  const expiresAt = spec.expiresAt ? Date.parse(spec.expiresAt) : undefined;
  const graceMs = spec.gracePeriod ? (parseDuration(spec.gracePeriod) ?? 0) : 0;

  // A Trial's clock starts at its first activation: the first evaluation that would make it
  // Active if it were not a trial. That is the whole phase decision without the trial end
  // (not suspended, past notBefore, before expiresAt, every required base license Active):
  // an add-on trial waiting for its base, or one created already expired, has not started.
  const wouldActivate =
    decidePhase(spec.suspended, now, notBefore, expiresAt, undefined, undefined, ctx.requiredPhases).phase === 'Active';
  let trialStartedAt = ctx.trialStartedAt;
  if (spec.type === 'Trial' && !trialStartedAt && wouldActivate) trialStartedAt = ctx.now;
  const trialEndsAt = spec.type === 'Trial' && trialStartedAt
    ? trialStartedAt.getTime() + (spec.trialDays ?? DEFAULT_TRIAL_DAYS) * DAY_MS
    : undefined;
  const effectiveExpiry = minDefined(expiresAt, trialEndsAt);
  // A 14-day trial is "expiring within 30 days" from its first day; warning about that is noise.
  const thresholdApplies = (days: number) => spec.type !== 'Trial' || days < (spec.trialDays ?? DEFAULT_TRIAL_DAYS);
  const enforceAt = effectiveExpiry === undefined ? undefined : effectiveExpiry + graceMs;

  const verdict = decidePhase(spec.suspended, now, notBefore, effectiveExpiry, trialEndsAt, enforceAt, ctx.requiredPhases);
  const active = verdict.phase === 'Active';
  const expiringWithinDays = active && effectiveExpiry !== undefined
    ? [...EXPIRING_SOON_DAYS].reverse().find((days) => effectiveExpiry - now <= days * DAY_MS && thresholdApplies(days))
    : undefined;

  const transitions = [notBefore, effectiveExpiry, enforceAt, ...EXPIRING_SOON_DAYS.filter(thresholdApplies).map((d) => effectiveExpiry === undefined ? undefined : effectiveExpiry - d * DAY_MS)];
  const next = transitions.filter((t): t is number => t !== undefined && t > now).sort((a, b) => a - b)[0];

  return {
    ...verdict,
    grantedVersions: active ? resolution.versions : [],
    resolvedVersions: resolution.versions,
    effectiveExpiresAt: toDate(effectiveExpiry),
    enforceAt: toDate(enforceAt),
    keepsPullSecret: active || (verdict.phase === 'Expired' && enforceAt !== undefined && now < enforceAt),
    trialStartedAt: trialStartedAt,
    expiringWithinDays,
    expiringSoonReason: expiringWithinDays ? EXPIRING_SOON_REASON[expiringWithinDays] : Reason.NotExpiringSoon,
    nextTransitionAt: toDate(next),
  };
}

function checkReferences(license: License, ctx: LicenseContext): Verdict | undefined {
  if (!ctx.customerExists) {
    return invalid(Reason.CustomerNotFound, `Customer "${license.spec.customer}" does not exist; create it or fix spec.customer`);
  }
  if (!ctx.application) {
    return invalid(Reason.ApplicationNotFound, `Application "${license.spec.application}" does not exist; create it or fix spec.application`);
  }
  if (ctx.earlierTrial) {
    return invalid(
      Reason.TrialAlreadyUsed,
      `customer "${license.spec.customer}" already had a trial of "${license.spec.application}" (License ${ctx.earlierTrial}); a customer gets one trial per application`,
    );
  }
  for (const name of license.spec.requires ?? []) {
    if (!(name in ctx.requiredPhases) || ctx.requiredPhases[name] === undefined) {
      return invalid(Reason.RequiredLicenseNotFound, `required base License "${name}" does not exist for customer "${license.spec.customer}"`);
    }
  }
  return undefined;
}

function decidePhase(
  suspended: boolean,
  now: number,
  notBefore: number | undefined,
  effectiveExpiry: number | undefined,
  trialEndsAt: number | undefined,
  enforceAt: number | undefined,
  requiredPhases: Record<string, LicensePhase | undefined>,
): Verdict {
  if (suspended) return { phase: 'Suspended', reason: Reason.Suspended, message: 'spec.suspended is true' };
  if (notBefore !== undefined && now < notBefore) {
    return { phase: 'Pending', reason: Reason.NotYetValid, message: `valid from ${iso(notBefore)}` };
  }
  if (effectiveExpiry !== undefined && now >= effectiveExpiry) {
    const what = trialEndsAt === effectiveExpiry ? 'trial ended' : 'expired';
    const inGrace = enforceAt !== undefined && now < enforceAt;
    return {
      phase: 'Expired',
      reason: inGrace ? Reason.InGracePeriod : trialEndsAt === effectiveExpiry ? Reason.TrialEnded : Reason.Expired,
      message: inGrace
        ? `${what} at ${iso(effectiveExpiry)}; running workloads are left alone until ${iso(enforceAt)}, new ones are refused`
        : `${what} at ${iso(effectiveExpiry)}`,
    };
  }
  const inactive = Object.entries(requiredPhases).filter(([, phase]) => phase !== 'Active');
  if (inactive.length > 0) {
    return {
      phase: 'Pending',
      reason: Reason.RequiredLicenseInactive,
      message: `waiting for required base license ${inactive.map(([name, phase]) => `${name} (${phase})`).join(', ')} to be Active`,
    };
  }
  return {
    phase: 'Active',
    reason: Reason.Active,
    message: effectiveExpiry === undefined ? 'active, perpetual' : `active until ${iso(effectiveExpiry)}`,
  };
}

const minDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
const toDate = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
