/**
 * Per-license gate credentials: one kubernetes.io/basic-auth Secret per License in the
 * operator's namespace (username: the license's name; password: a random token). The
 * operator creates it, the gate checks pulls against it, and the customer's pull secret is
 * rendered from it. Shared vocabulary of render/, reconcile/ and gate/.
 */
import { createHash } from 'node:crypto';

/** Label (value "true") on every gate credentials Secret. */
export const GATE_CREDENTIALS_LABEL = 'licensegate.dev/gate-credentials';
/** Annotation naming the Secret's License (license names may be longer than a label value allows). */
export const GATE_LICENSE_ANNOTATION = 'licensegate.dev/license';

const PREFIX = 'licensegate-gate-';
const MAX_NAME = 253;

/** Name of the gate credentials Secret of `license`; very long names keep a prefix plus a hash, so they never collide. */
export function gateCredentialsSecretName(license: string): string {
  const name = `${PREFIX}${license}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(license).digest('hex').slice(0, 16);
  return `${name.slice(0, MAX_NAME - 17).replace(/[-.]+$/, '')}-${hash}`;
}

/** The license a Secret holds gate credentials for, or undefined when it is not one. */
export function gateCredentialsLicense(secret: { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> } }): string | undefined {
  if (secret.metadata?.labels?.[GATE_CREDENTIALS_LABEL] !== 'true') return undefined;
  const license = secret.metadata.annotations?.[GATE_LICENSE_ANNOTATION];
  return license && secret.metadata.name === gateCredentialsSecretName(license) ? license : undefined;
}

/** Bytes of randomness in a gate token (256 bits, base64url: 43 characters). */
export const GATE_TOKEN_BYTES = 32;
