/**
 * Judging the signatures of one customer's Licenses together. Pure.
 *
 * The rollback record is per customer × application (the Ledger's `signedSequence`): the
 * vendor's sequence counter for that pair. A newer signed License supersedes older ones, so
 * among the licenses judged together, one whose sequence is lower than another verified one
 * of the same application is a rollback too — the result does not depend on which of them the
 * operator happened to see first.
 */
import type { License } from '../api/index.js';
import { SignatureReason, checkLicenseSignature, type SignatureVerdict, type SigningKeys, type VerifyResult } from './signature.js';

/** What the operator was configured with. */
export interface SigningSettings {
  keys: SigningKeys;
  required: boolean;
  /** UID of this cluster's kube-system namespace. */
  clusterId: string | undefined;
  /** A memoised verifySignature over `keys` (see SignaturePolicy.verify). */
  verify?: (jws: string) => VerifyResult;
}

/** No key trusted, nothing required: a signed license is refused rather than ignored. */
export const NO_SIGNING: SigningSettings = { keys: new Map(), required: false, clusterId: undefined };

export interface SignatureJudgement {
  /** Verdict per license name; unsigned licenses (when not required) have none. */
  verdicts: Map<string, SignatureVerdict>;
  /** Per application, the highest verified sequence when it is above the accepted one: to record. */
  toRecord: Map<string, number>;
}

export function judgeSignatures(
  licenses: License[],
  settings: SigningSettings = NO_SIGNING,
  accepted: ReadonlyMap<string, number>,
): SignatureJudgement {
  const verdicts = new Map<string, SignatureVerdict>();
  const highest = new Map<string, number>();
  for (const license of licenses) {
    const application = license.spec?.application ?? '';
    const verdict = checkLicenseSignature({ metadata: license.metadata, spec: license.spec ?? {} }, { ...settings, acceptedSequence: accepted.get(application) });
    if (verdict.state === 'Unsigned') continue;
    verdicts.set(license.metadata.name, verdict);
    if (verdict.state === 'Verified') highest.set(application, Math.max(highest.get(application) ?? 0, verdict.claims.sequence));
  }
  for (const license of licenses) {
    const verdict = verdicts.get(license.metadata.name);
    const top = highest.get(license.spec?.application ?? '');
    if (verdict?.state === 'Verified' && top !== undefined && verdict.claims.sequence < top) {
      verdicts.set(license.metadata.name, {
        state: 'Refused',
        reason: SignatureReason.Rollback,
        message: `sequence ${verdict.claims.sequence} is superseded by sequence ${top} of another signed License of this customer and application; delete the older License`,
      });
    }
  }
  const toRecord = new Map([...highest].filter(([application, sequence]) => sequence > (accepted.get(application) ?? -1)));
  return { verdicts, toRecord };
}
