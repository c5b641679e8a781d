/**
 * The webhook's answer to an AdmissionReview: the same decision as the admission policy
 * (decide.ts), plus what only state can answer — a scale-up through the /scale subresource
 * carries no images, so the parent workload is looked up.
 */
import type { VersionPolicySpec } from '../api/index.js';
import { AdmissionReason, decideAdmission, deniedImages, refusalMessage, type AdmissionVerdict } from './decide.js';
import type { Workload } from './sweep.js';
import { imagesOf } from './workload.js';

/** The parts of an admission.k8s.io/v1 AdmissionRequest the webhook reads. */
export interface AdmissionReviewRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object?: unknown;
  oldObject?: unknown;
}

export interface AdmissionReviewResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface ReviewContext {
  /** The VersionPolicy spec of a namespace, if the operator has written one. */
  policyFor(namespace: string): VersionPolicySpec | undefined;
  /** The workload behind a /scale request. */
  parentFor(resource: string, namespace: string, name: string): Workload | undefined;
}

/** Answers one AdmissionReview request. */
export function reviewAdmission(request: AdmissionReviewRequest, ctx: ReviewContext): AdmissionReviewResponse {
  const namespace = request.namespace ?? '';
  const policy = ctx.policyFor(namespace);
  if (!policy) {
    return deny(request.uid, `licensegate: namespace ${namespace} has no VersionPolicy yet; the operator writes it for every customer namespace`);
  }
  const verdict = request.subResource === 'scale' ? decideScale(request, policy, ctx) : decideAdmission(request, policy);
  if (verdict.allowed) return { uid: request.uid, allowed: true };
  // The customer's admission mode, as the policy's bindings apply it.
  if (policy.admission === 'Warn') return { uid: request.uid, allowed: true, warnings: [verdict.message] };
  if (policy.admission === 'Audit') return { uid: request.uid, allowed: true, auditAnnotations: { violation: verdict.message } };
  return deny(request.uid, verdict.message);
}

function decideScale(request: AdmissionReviewRequest, policy: VersionPolicySpec, ctx: ReviewContext): AdmissionVerdict {
  const replicas = (o: unknown) => (o as { spec?: { replicas?: number } } | undefined)?.spec?.replicas ?? 0;
  if (request.operation !== 'UPDATE' || replicas(request.object) <= replicas(request.oldObject)) {
    return { allowed: true, reason: AdmissionReason.Allowed };
  }
  const parent = ctx.parentFor(request.resource?.resource ?? '', request.namespace ?? '', request.name ?? '');
  // Not in the cache (created a moment ago, or the watch is behind): its images are unknown,
  // and unknown is not licensed. Refuse; the caller's retry finds it once the cache catches up.
  if (!parent) {
    const reason = AdmissionReason.ParentUnknown;
    const what = `${request.resource?.resource ?? 'workload'} ${request.namespace ?? ''}/${request.name ?? ''}`;
    return { allowed: false, reason, image: '', message: `licensegate: cannot check this scale-up yet: ${what} is not in the webhook's cache; retry in a moment` };
  }
  const denied = deniedImages(imagesOf(parent as Parameters<typeof imagesOf>[0]), policy);
  if (denied.length === 0) return { allowed: true, reason: AdmissionReason.Allowed };
  const reason = AdmissionReason.RaisesUnlicensedWorkload;
  return { allowed: false, reason, image: denied[0]!.image, message: refusalMessage(reason, denied[0]!, policy) };
}

function deny(uid: string, message: string): AdmissionReviewResponse {
  return { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } };
}
