/**
 * The limits webhook (served at /limits): gathers the customer's usage from the caches and its
 * Ledger, decides with licensing/limits.ts, and records token and first-use seat claims in the
 * Ledger with a compare-and-swap write BEFORE answering "allowed". A conflicting write (another
 * replica claiming at the same moment) makes it decide again on the fresh Ledger, so two
 * replicas racing for the last token never both win.
 */
import type { Logger } from 'pino';
import type { AdmissionMode, Application, Customer, Ledger, License } from '../api/index.js';
import { customerSpec } from '../api/index.js';
import { decideLimits, effectiveLimits, isBuiltInController, recordClaims, type LimitVerdict, type Requester } from '../licensing/limits.js';
import { controllerOf, desiredPods, measureUsage, runsApplication, workloadKey, type WorkloadObject } from '../licensing/usage.js';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../enforcement/review.js';
import type { LedgerField, LedgerWriter } from '../reconcile/ledger.js';

/** An AdmissionRequest with the requester, which the limits need. */
export interface LimitsReviewRequest extends AdmissionReviewRequest {
  userInfo?: { username?: string; groups?: string[] };
  /** A dry run decides like the real request but records no claim (the webhook declares NoneOnDryRun). */
  dryRun?: boolean;
}

/** What the limits webhook reads (caches) and writes (the Ledger). */
export interface LimitsContext {
  customerOfNamespace(namespace: string): string | undefined;
  customer(name: string): Customer | undefined;
  namespacesOf(customer: string): string[];
  /** The customer's licenses (by the licenses cache's customer index). */
  licensesOf(customer: string): License[];
  applications(): Application[];
  workloadsIn(namespace: string): WorkloadObject[];
  /** The workload behind a /scale request. */
  parentFor(resource: string, namespace: string, name: string): WorkloadObject | undefined;
  ledger(customer: string, application: string): Ledger | undefined;
  nodeCount(): number;
  ledgers: LedgerWriter;
  clock(): Date;
  log: Logger;
}

/**
 * All a claim reads from and writes to the Ledger (decideLimits reads tokens and seats, and
 * recordClaims adds to them): its write is conditioned on these alone, so the reconciler's
 * usage records, written on every change of usage, do not make claims retry.
 */
const CLAIM_FIELDS: readonly LedgerField[] = ['tokens', 'seats'];

const allow = (uid: string, warnings: string[]): AdmissionReviewResponse => ({ uid, allowed: true, ...(warnings.length ? { warnings } : {}) });
const deny = (uid: string, message: string): AdmissionReviewResponse => ({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } });

/** The workload before and after the request (for /scale: the parent with the old and new replica counts). */
function states(request: LimitsReviewRequest, ctx: LimitsContext): { before?: WorkloadObject; after?: WorkloadObject } | undefined {
  const kind = request.kind?.kind;
  if (request.subResource === 'scale') {
    const parent = ctx.parentFor(request.resource?.resource ?? '', request.namespace ?? '', request.name ?? '');
    if (!parent) return undefined;
    const withReplicas = (scale: unknown) => ({ ...parent, spec: { ...parent.spec, replicas: (scale as { spec?: { replicas?: number } } | undefined)?.spec?.replicas ?? 0 } });
    return { before: withReplicas(request.oldObject), after: withReplicas(request.object) };
  }
  if (request.subResource) return {};
  const typed = (o: unknown) => (o ? ({ ...(o as WorkloadObject), kind }) : undefined);
  return { before: request.operation === 'UPDATE' ? typed(request.oldObject) : undefined, after: typed(request.object) };
}

/** Reviews one request against the limits of every limited application the workload runs. */
export async function reviewLimits(request: LimitsReviewRequest, ctx: LimitsContext): Promise<AdmissionReviewResponse> {
  const uid = request.uid;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow(uid, []);
  const namespace = request.namespace ?? '';
  const customerName = ctx.customerOfNamespace(namespace);
  if (!customerName) return allow(uid, []);
  const found = states(request, ctx);
  if (!found) return deny(uid, `licensegate: cannot judge this scale request: ${request.resource?.resource}/${request.name} is not in the operator's cache yet; retry`);
  const { before, after } = found;
  if (!after) return allow(uid, []);
  const requester: Requester = { username: request.userInfo?.username ?? '', groups: request.userInfo?.groups ?? [] };
  const workloads = ctx.namespacesOf(customerName).flatMap((ns) => ctx.workloadsIn(ns));
  // A ReplicaSet or Pod that a controller makes for a workload is counted through that workload:
  // when a built-in controller makes it, or when its controller is a workload we know (by UID,
  // so a forged owner reference hides nothing; whoever the requester is, since controllers
  // may run under any name).
  const owner = controllerOf(after);
  if (owner && (isBuiltInController(requester) || workloads.some((w) => w.metadata?.namespace === namespace && owner.uid !== undefined && w.metadata?.uid === owner.uid))) {
    return allow(uid, []);
  }

  const licenses = ctx.licensesOf(customerName).filter((l) => l.spec?.customer === customerName && l.status?.phase === 'Active');
  const warnings: string[] = [];
  const refusals: string[] = [];
  for (const app of ctx.applications()) {
    const runsBefore = before !== undefined && runsApplication(before, app.spec.images);
    const runsAfter = runsApplication(after, app.spec.images);
    if (!runsBefore && !runsAfter) continue;
    const limits = effectiveLimits(licenses.filter((l) => l.spec.application === app.metadata.name));
    if (!limits) continue;
    const nodeCount = ctx.nodeCount();
    const input = {
      limits,
      namespace,
      podsBefore: runsBefore ? desiredPods(before, nodeCount) : 0,
      podsAfter: runsAfter ? desiredPods(after, nodeCount) : 0,
      usage: measureUsage(workloads, app.spec.images, nodeCount, { namespace, key: workloadKey(after) }),
      requester,
      now: ctx.clock(),
    };
    let verdict: LimitVerdict = decideLimits({ ...input, ledger: ctx.ledger(customerName, app.metadata.name)?.spec });
    if (verdict.allowed && !request.dryRun && (verdict.claims.token || verdict.claims.seat)) {
      // Claim first, on the latest Ledger: re-decided on every conflicting write.
      const outcome = await ctx.ledgers.change<LimitVerdict>(customerName, app.metadata.name, (spec) => {
        const fresh = decideLimits({ ...input, ledger: spec });
        if (!fresh.allowed) return { result: fresh };
        const next = recordClaims(spec, fresh.claims, input.now);
        // Both lists written, empty or not: later claims can then test them (a JSON patch cannot test absence).
        return next ? { spec: { ...next, tokens: next.tokens ?? [], seats: next.seats ?? [] }, result: fresh } : { result: fresh };
      }, { known: ctx.ledger(customerName, app.metadata.name), fields: CLAIM_FIELDS });
      verdict = outcome.result;
      if (outcome.wrote && verdict.allowed) ctx.log.info({ customer: customerName, application: app.metadata.name, claims: verdict.claims, operation: request.operation, kind: request.kind?.kind, name: request.name, namespace, dryRun: request.dryRun }, 'limit claim recorded');
    }
    if (verdict.allowed) warnings.push(...verdict.warnings);
    else refusals.push(verdict.message);
  }
  if (refusals.length === 0) return allow(uid, warnings);
  const mode = admissionMode(ctx.customer(customerName));
  if (mode === 'Warn') return allow(uid, [...refusals, ...warnings]);
  if (mode === 'Audit') return { uid, allowed: true, auditAnnotations: { limit: refusals.join('; ') }, ...(warnings.length ? { warnings } : {}) };
  return deny(uid, refusals.join('; '));
}

/** The customer's admission mode applies to limits as to versions. */
function admissionMode(customer: Customer | undefined): AdmissionMode {
  return customerSpec.safeParse(customer?.spec).data?.enforcement.admission ?? 'Deny';
}
