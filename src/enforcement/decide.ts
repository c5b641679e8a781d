/**
 * The admission decision, in TypeScript: the same question the ValidatingAdmissionPolicy
 * answers in CEL (policy.ts), for the webhook and for tests. A differential test holds the two
 * to the same verdicts.
 */
import type { VersionPolicySpec } from '../api/index.js';
import { parseImageReference } from '../vocabulary/image.js';
import { imagesOf, raisesWorkload } from './workload.js';

export const AdmissionReason = {
  Allowed: 'Allowed',
  ImageNotLicensed: 'ImageNotLicensed',
  RaisesUnlicensedWorkload: 'RaisesUnlicensedWorkload',
  /** A /scale request whose parent workload the webhook cannot see yet: refused, never guessed. */
  ParentUnknown: 'ParentUnknown',
} as const;
export type AdmissionReason = (typeof AdmissionReason)[keyof typeof AdmissionReason];

export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object?: unknown;
  oldObject?: unknown;
}

export type AdmissionVerdict =
  | { allowed: true; reason: typeof AdmissionReason.Allowed }
  | { allowed: false; reason: Exclude<AdmissionReason, 'Allowed'>; image: string; message: string };

/** A gated image whose tag or digest the policy does not grant. */
export interface DeniedImage {
  image: string;
  repository: string;
}

/** Images of `object` that the policy gates and does not grant (the digest decides over the tag). */
export function deniedImages(images: string[], policy: VersionPolicySpec): DeniedImage[] {
  const denied: DeniedImage[] = [];
  for (const image of images) {
    const ref = parseImageReference(image);
    const grant = policy.repositories[ref.repository];
    if (!grant) continue;
    const allowed = ref.digest !== undefined ? grant.allowedDigests.includes(ref.digest) : grant.allowedTags.includes(ref.tag ?? '');
    if (!allowed) denied.push({ image, repository: ref.repository });
  }
  return denied;
}

/**
 * Decides a workload request. CREATE: every gated image must be granted. UPDATE (ratchet):
 * an image that is not granted may stay, but not be added, and the workload may not be
 * scaled up or un-suspended while it runs one. DELETE and scaling down always pass.
 */
export function decideAdmission(request: AdmissionRequest, policy: VersionPolicySpec): AdmissionVerdict {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { allowed: true, reason: AdmissionReason.Allowed };
  const object = request.object as Parameters<typeof imagesOf>[0];
  const denied = deniedImages(imagesOf(object), policy);
  if (denied.length === 0) return { allowed: true, reason: AdmissionReason.Allowed };
  if (request.operation === 'CREATE') return refuse(AdmissionReason.ImageNotLicensed, denied[0]!, policy);
  const oldImages = new Set(imagesOf(request.oldObject as Parameters<typeof imagesOf>[0]));
  const added = denied.filter((d) => !oldImages.has(d.image));
  if (added.length > 0) return refuse(AdmissionReason.ImageNotLicensed, added[0]!, policy);
  if (raisesWorkload(object, request.oldObject as Parameters<typeof imagesOf>[0])) {
    return refuse(AdmissionReason.RaisesUnlicensedWorkload, denied[0]!, policy);
  }
  return { allowed: true, reason: AdmissionReason.Allowed };
}

function refuse(reason: Exclude<AdmissionReason, 'Allowed'>, denied: DeniedImage, policy: VersionPolicySpec): AdmissionVerdict {
  return { allowed: false, reason, image: denied.image, message: refusalMessage(reason, denied, policy) };
}

/** The refusal text; policy.ts builds the same text in CEL. */
export function refusalMessage(reason: Exclude<AdmissionReason, 'Allowed'>, denied: DeniedImage, policy: VersionPolicySpec): string {
  const grant = policy.repositories[denied.repository]!;
  const what = reason === AdmissionReason.ImageNotLicensed ? 'is not licensed' : 'is not licensed, so this workload may not be scaled up';
  const granted = grant.licenses.length === 0
    ? `no active license grants ${denied.repository}`
    : `license(s) ${grant.licenses.join(', ')} grant ${denied.repository} tags [${grant.allowedTags.join(', ')}]`;
  return `licensegate: image ${denied.image} ${what} for customer ${policy.customer}: ${granted}`;
}
