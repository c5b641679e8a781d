/**
 * License limits at admission: maxReplicas, floating namespace tokens (Team / Mono), seats
 * (assignees or first use) and the overage allowance. Pure: the webhook gathers usage and the
 * Ledger, this decides, and says which claims (token, seat) the Ledger must record before the
 * request may be allowed. Re-deciding on a fresher Ledger is how racing replicas settle.
 */
import type { Assignee, LedgerSpec, License, TokenMode } from '../api/index.js';
import type { ApplicationUsage } from './usage.js';

export const LimitReason = {
  Allowed: 'Allowed',
  MaxReplicasExceeded: 'MaxReplicasExceeded',
  TokensExhausted: 'TokensExhausted',
  MonoNamespaceTaken: 'MonoNamespaceTaken',
  NoSeat: 'NoSeat',
  SeatsExhausted: 'SeatsExhausted',
} as const;
export type LimitReason = (typeof LimitReason)[keyof typeof LimitReason];

/** Usage at or above this share of a limit draws a warning (and the ApproachingLimit condition). */
export const APPROACHING_SHARE = 0.8;
/** License expiring within this many days draws a warning at admission. */
export const EXPIRY_WARNING_DAYS = 7;

/** The limits that bind one customer × application, combined over its Active licenses. */
export interface EffectiveLimits {
  /** The licenses the limits come from, for messages. */
  licenses: string[];
  maxReplicas?: number;
  concurrentNamespaces?: number;
  tokenMode: TokenMode;
  seats?: number;
  /** Assignees, when seats are assigned; undefined means seats are taken by first use. */
  assignees?: Assignee[];
  overagePercent: number;
  /** The earliest expiry among those licenses, for the expiry warning. */
  expiresAt?: Date;
}

/**
 * Combines the Active licenses of one customer × application. Licenses add up the way a
 * vendor would expect of two contracts: a limit binds only if every license sets it, and then
 * the most generous one wins (a license without a limit grants unlimited use of that kind).
 * Undefined when nothing is limited.
 */
export function effectiveLimits(active: readonly License[]): EffectiveLimits | undefined {
  if (active.length === 0) return undefined;
  const every = <K extends 'maxReplicas' | 'concurrentNamespaces' | 'seats'>(key: K) => {
    const values = active.map((l) => l.spec.limits?.[key]);
    return values.every((v) => v !== undefined) ? Math.max(...(values as number[])) : undefined;
  };
  const maxReplicas = every('maxReplicas');
  const concurrentNamespaces = every('concurrentNamespaces');
  const seats = every('seats');
  if (maxReplicas === undefined && concurrentNamespaces === undefined && seats === undefined) return undefined;
  const limited = active.filter((l) => l.spec.limits);
  // Mono only if every license says Mono: the freer mode wins, like the limits.
  const tokenMode: TokenMode = limited.every((l) => l.spec.limits?.tokenMode === 'Mono') ? 'Mono' : 'Team';
  // Seats are assigned only if every license assigns them; the assignee lists add up.
  const assigned = active.every((l) => (l.spec.assignees ?? []).length > 0);
  const expiries = active.map((l) => (l.status?.effectiveExpiresAt ? Date.parse(l.status.effectiveExpiresAt) : undefined));
  const expiresAt = expiries.every((e) => e !== undefined) ? new Date(Math.max(...(expiries as number[]))) : undefined;
  return {
    licenses: active.map((l) => l.metadata.name).sort(),
    ...(maxReplicas !== undefined ? { maxReplicas } : {}),
    ...(concurrentNamespaces !== undefined ? { concurrentNamespaces } : {}),
    tokenMode,
    ...(seats !== undefined ? { seats } : {}),
    ...(seats !== undefined && assigned ? { assignees: active.flatMap((l) => l.spec.assignees ?? []) } : {}),
    overagePercent: Math.max(...active.map((l) => l.spec.limits?.overagePercent ?? 0)),
    ...(expiresAt ? { expiresAt } : {}),
  };
}

/** The most a limit admits with its overage allowance: floor(limit × (1 + p/100)). */
export function allowance(limit: number, overagePercent: number): number {
  // Integer arithmetic: 4 × 125 / 100 is exactly 5, where 4 × 1.25 in floats might not be.
  return Math.floor((limit * (100 + overagePercent)) / 100);
}

/** Who makes the request, as the API server authenticated them. */
export interface Requester {
  username: string;
  groups: string[];
}

/**
 * Built-in controllers act for whoever created the workload; they never take a seat. (The
 * operator's own requests never reach the webhook: its match conditions exempt it.)
 */
export function isBuiltInController(user: Requester): boolean {
  return (
    user.username.startsWith('system:serviceaccount:kube-system:') ||
    user.username === 'system:kube-controller-manager' ||
    user.username === 'system:kube-scheduler' ||
    user.username.startsWith('system:node:')
  );
}

export interface LimitInput {
  limits: EffectiveLimits;
  namespace: string;
  /** Desired pods of the workload before (0 on create) and after the request. */
  podsBefore: number;
  podsAfter: number;
  /** The application's usage without this workload. */
  usage: ApplicationUsage;
  ledger: LedgerSpec | undefined;
  requester: Requester;
  now: Date;
}

/** What the Ledger must record before the request is allowed. */
export interface Claims {
  token?: string;
  seat?: string;
}

export type LimitVerdict =
  | { allowed: true; reason: typeof LimitReason.Allowed; warnings: string[]; claims: Claims; overLimit: boolean }
  | { allowed: false; reason: Exclude<LimitReason, 'Allowed'>; message: string };

const licenseNames = (limits: EffectiveLimits) =>
  limits.licenses.length === 1 ? `license ${limits.licenses[0]}` : `licenses ${limits.licenses.join(', ')}`;

/**
 * Decides one workload request against the limits. Scaling down (fewer desired pods) is
 * never refused; a create or any other update needs a seat (where seats are limited), fits
 * under maxReplicas (with overage), and runs only in a namespace holding a token.
 */
export function decideLimits(input: LimitInput): LimitVerdict {
  const { limits, usage, namespace } = input;
  const warnings: string[] = [];
  const claims: Claims = {};
  let overLimit = false;
  const who = licenseNames(limits);
  if (input.podsAfter < input.podsBefore) return { allowed: true, reason: LimitReason.Allowed, warnings, claims, overLimit };

  if (limits.seats !== undefined && !isBuiltInController(input.requester)) {
    const seat = decideSeat(limits, limits.seats, input, who);
    if (!seat.allowed) return seat.verdict;
    if (seat.claim) claims.seat = seat.claim;
    warnings.push(...seat.warnings);
    overLimit ||= seat.over;
  }

  if (limits.maxReplicas !== undefined && input.podsAfter > input.podsBefore) {
    const total = usage.replicas + input.podsAfter;
    const limit = limits.maxReplicas;
    const most = allowance(limit, limits.overagePercent);
    if (total > most) {
      return {
        allowed: false,
        reason: LimitReason.MaxReplicasExceeded,
        message: `licensegate: ${who} allows at most ${limit} replicas of this application${most > limit ? ` (${most} with overage)` : ''}; ${usage.replicas} are desired already, this request would make ${total}`,
      };
    }
    if (total > limit) {
      overLimit = true;
      warnings.push(`licensegate: ${total} replicas exceed the limit of ${limit} of ${who}; admitted within the ${limits.overagePercent}% overage allowance (at most ${most})`);
    } else if (total >= APPROACHING_SHARE * limit) {
      warnings.push(`licensegate: ${total} of ${limit} replicas allowed by ${who} are in use`);
    }
  }

  if (limits.concurrentNamespaces !== undefined && input.podsAfter > 0) {
    const othersHere = usage.running.get(namespace) ?? [];
    if (limits.tokenMode === 'Mono' && othersHere.length > 0) {
      return {
        allowed: false,
        reason: LimitReason.MonoNamespaceTaken,
        message: `licensegate: ${who} holds tokens in Mono mode (one running workload per namespace); namespace ${namespace} already runs ${othersHere.join(', ')}`,
      };
    }
    // Holders: what the Ledger records, and any namespace running the application without a record.
    const holders = new Set([...(input.ledger?.tokens ?? []).map((t) => t.namespace), ...usage.running.keys()]);
    // A workload running already (before this update) holds its namespace's token, recorded or not.
    if (input.podsBefore > 0) holders.add(namespace);
    const limit = limits.concurrentNamespaces;
    const most = allowance(limit, limits.overagePercent);
    if (!holders.has(namespace)) {
      if (holders.size + 1 > most) {
        return {
          allowed: false,
          reason: LimitReason.TokensExhausted,
          message: `licensegate: all ${most} namespace tokens of ${who} are held (by ${[...holders].sort().join(', ')}); stop the application in one of them to free a token`,
        };
      }
      holders.add(namespace);
    }
    if (!(input.ledger?.tokens ?? []).some((t) => t.namespace === namespace)) claims.token = namespace;
    if (holders.size > limit) {
      overLimit = true;
      warnings.push(`licensegate: ${holders.size} namespaces hold tokens, over the limit of ${limit} of ${who}; admitted within the ${limits.overagePercent}% overage allowance`);
    } else if (holders.size >= APPROACHING_SHARE * limit) {
      warnings.push(`licensegate: ${holders.size} of ${limit} namespace tokens of ${who} are held`);
    }
  }

  if (limits.expiresAt) {
    const days = (limits.expiresAt.getTime() - input.now.getTime()) / 86_400_000;
    if (days >= 0 && days <= EXPIRY_WARNING_DAYS) warnings.push(`licensegate: ${who} expires at ${limits.expiresAt.toISOString()}`);
  }
  return { allowed: true, reason: LimitReason.Allowed, warnings, claims, overLimit };
}

type SeatDecision =
  | { allowed: true; claim?: string; warnings: string[]; over: boolean }
  | { allowed: false; verdict: Extract<LimitVerdict, { allowed: false }> };

function decideSeat(limits: EffectiveLimits, seats: number, input: LimitInput, who: string): SeatDecision {
  const user = input.requester.username;
  if (limits.assignees) {
    const holds = limits.assignees.some((a) => (a.kind === 'User' ? a.name === user : input.requester.groups.includes(a.name)));
    if (holds) return { allowed: true, warnings: [], over: false };
    return {
      allowed: false,
      verdict: { allowed: false, reason: LimitReason.NoSeat, message: `licensegate: user ${user} holds no seat of ${who}; ask the vendor to assign one` },
    };
  }
  const holders = (input.ledger?.seats ?? []).filter((s) => s.kind === 'User').map((s) => s.name);
  if (holders.includes(user)) return { allowed: true, warnings: [], over: false };
  const most = allowance(seats, limits.overagePercent);
  if (holders.length + 1 > most) {
    return {
      allowed: false,
      verdict: {
        allowed: false,
        reason: LimitReason.SeatsExhausted,
        message: `licensegate: all ${most} seats of ${who} are taken (by ${[...holders].sort().join(', ')}); user ${user} holds none`,
      },
    };
  }
  const taken = holders.length + 1;
  const warnings = taken > seats
    ? [`licensegate: ${taken} seats taken, over the ${seats} of ${who}; admitted within the ${limits.overagePercent}% overage allowance`]
    : taken >= APPROACHING_SHARE * seats
      ? [`licensegate: ${taken} of ${seats} seats of ${who} are taken`]
      : [];
  return { allowed: true, claim: user, warnings, over: taken > seats };
}

/** The Ledger spec with `claims` recorded (unchanged when they are already there). */
export function recordClaims(spec: LedgerSpec, claims: Claims, now: Date): LedgerSpec | undefined {
  const since = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  let next = spec;
  if (claims.token && !(spec.tokens ?? []).some((t) => t.namespace === claims.token)) {
    next = { ...next, tokens: [...(spec.tokens ?? []), { namespace: claims.token, since }] };
  }
  if (claims.seat && !(spec.seats ?? []).some((s) => s.kind === 'User' && s.name === claims.seat)) {
    next = { ...next, seats: [...(spec.seats ?? []), { kind: 'User', name: claims.seat, since }] };
  }
  return next === spec ? undefined : next;
}

/**
 * Tokens no running workload backs any more, released: except those claimed less than
 * `minAgeMs` ago, whose workload may not have reached the caches yet (the webhook claims
 * before the API server stores the object). Undefined when nothing changes.
 */
export function releaseTokens(spec: LedgerSpec, running: ReadonlySet<string>, now: Date, minAgeMs: number): LedgerSpec | undefined {
  const tokens = spec.tokens ?? [];
  const kept = tokens.filter((t) => running.has(t.namespace) || now.getTime() - Date.parse(t.since) < minAgeMs);
  return kept.length === tokens.length ? undefined : { ...spec, tokens: kept };
}

/** When the youngest unbacked token becomes releasable, if any is waiting. */
export function nextTokenRelease(spec: LedgerSpec | undefined, running: ReadonlySet<string>, minAgeMs: number): Date | undefined {
  const waiting = (spec?.tokens ?? []).filter((t) => !running.has(t.namespace)).map((t) => Date.parse(t.since) + minAgeMs);
  return waiting.length === 0 ? undefined : new Date(Math.min(...waiting));
}
