/**
 * Vendor-signed licenses: a compact JWS (EdDSA over Ed25519) whose payload is the License's
 * name and spec (without the signature), a sequence number, the issue time, the key id and,
 * optionally, the cluster the license is bound to (the UID of its `kube-system` namespace).
 *
 * Pure: keys, the cluster id and the highest sequence already accepted come in as arguments.
 *
 * Signing uses `jose` (async, as WebCrypto is). Verification is synchronous on purpose: it is
 * part of the pure, synchronous license evaluation that the planner runs, and an Ed25519
 * verification is one call to Node's `crypto.verify` over the JWS signing input
 * (`BASE64URL(header).BASE64URL(payload)`), exactly what RFC 7515/8037 define. The unit tests
 * hold the two to each other: `jose.compactVerify` accepts what `signLicense` makes, and
 * {@link verifySignature} accepts what jose signs and refuses what it refuses.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { z } from 'zod';
import { licenseSpec, type LicenseSpec } from '../api/license.js';

/** Why a signed License is refused; each becomes the Invalid phase's reason. */
export const SignatureReason = {
  /** The key id in the signature is none of the vendor public keys the operator was given. */
  UnknownSigningKey: 'UnknownSigningKey',
  /** The signature does not verify with the key its key id names: the token was altered. */
  BadSignature: 'BadSignature',
  /** The License's name or spec differs from what the vendor signed: it was edited. */
  SignatureMismatch: 'SignatureMismatch',
  /** The license is bound to another cluster. */
  WrongCluster: 'WrongCluster',
  /** Its sequence is lower than one already accepted for the same customer and application. */
  Rollback: 'Rollback',
  /** The operator requires signed licenses and this one carries no signature. */
  SignatureRequired: 'SignatureRequired',
  /** spec.signature is not a compact JWS of a licensegate license. */
  MalformedSignature: 'MalformedSignature',
} as const;
export type SignatureReason = (typeof SignatureReason)[keyof typeof SignatureReason];

/** The JWS `typ` header of a licensegate license. */
export const SIGNED_LICENSE_TYPE = 'licensegate-license+jws';
export const SIGNATURE_ALGORITHM = 'EdDSA';

const rfc3339 = z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time');

/** What the vendor signs. */
export const licenseClaims = z.object({
  license: z.string().min(1).max(253).describe('metadata.name of the License.'),
  spec: z.record(z.string(), z.unknown()).describe('The License spec, without spec.signature.'),
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  issuedAt: rfc3339,
  kid: z.string().min(1).max(128),
  cluster: z.string().min(1).max(64).optional(),
});
export type LicenseClaims = z.infer<typeof licenseClaims>;

/** Vendor public keys by key id. */
export type SigningKeys = ReadonlyMap<string, KeyObject>;

/**
 * The key id of an Ed25519 public key: its RFC 7638 JWK thumbprint (SHA-256, base64url), the
 * same value `jose.calculateJwkThumbprint` gives. Derived, never chosen, so a key id cannot
 * name another key.
 */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  // RFC 7638: the required members, in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

export type KeysResult = { ok: true; keys: Map<string, KeyObject> } | { ok: false; message: string };

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g;

/** Parses a bundle of PEM public keys (SPKI, Ed25519 only) into keys by key id. */
export function parsePublicKeys(pem: string, source = 'the key bundle'): KeysResult {
  const keys = new Map<string, KeyObject>();
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return { ok: false, message: `${source} holds no PEM block ("-----BEGIN PUBLIC KEY-----")` };
  for (const [block, label] of blocks) {
    if (label !== 'PUBLIC KEY') return { ok: false, message: `${source} holds a "${label}" block; only public keys (-----BEGIN PUBLIC KEY-----) belong there` };
    let key: KeyObject;
    try {
      key = createPublicKey(block);
    } catch (error) {
      return { ok: false, message: `${source} holds a PEM block that is not a valid public key (${(error as Error).message})` };
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      return { ok: false, message: `${source} holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; licensegate keys are Ed25519 (make them with licensegate keygen)` };
    }
    keys.set(keyIdOf(key), key);
  }
  return { ok: true, keys };
}

/** The spec as signed and as compared: schema defaults applied, spec.signature left out. */
export function signableSpec(spec: unknown): { ok: true; spec: Omit<LicenseSpec, 'signature'> } | { ok: false; message: string } {
  const parsed = licenseSpec.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, message: `spec.${issue.path.join('.')}: ${issue.message}` };
  }
  const { signature: _signature, ...rest } = parsed.data;
  return { ok: true, spec: rest };
}

export interface SignOptions {
  privateKey: KeyObject;
  sequence: number;
  issuedAt: Date;
  /** The kube-system namespace UID of the cluster the license is bound to. */
  cluster?: string;
}

/** Signs a License (its name and spec); returns the compact JWS for spec.signature. */
export async function signLicense(license: { metadata: { name: string }; spec: unknown }, options: SignOptions): Promise<string> {
  const spec = signableSpec(license.spec);
  if (!spec.ok) throw new Error(spec.message);
  const kid = keyIdOf(options.privateKey);
  const claims: LicenseClaims = {
    license: license.metadata.name,
    spec: spec.spec,
    sequence: options.sequence,
    issuedAt: options.issuedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    kid,
    ...(options.cluster ? { cluster: options.cluster } : {}),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: SIGNATURE_ALGORITHM, typ: SIGNED_LICENSE_TYPE, kid })
    .sign(options.privateKey);
}

export type VerifyResult =
  | { ok: true; claims: LicenseClaims }
  | { ok: false; reason: SignatureReason; message: string };

const refuse = (reason: SignatureReason, message: string): VerifyResult => ({ ok: false, reason, message });

const header = z.object({ alg: z.string(), kid: z.string().max(128).optional(), typ: z.string().optional(), crit: z.unknown().optional() });
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Verifies a compact JWS against the vendor keys: the signature and the shape of its claims. */
export function verifySignature(jws: string, keys: SigningKeys): VerifyResult {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts.some((p) => !BASE64URL.test(p)) || parts[2] === '') {
    return refuse(SignatureReason.MalformedSignature, 'spec.signature is not a compact JWS (three base64url parts separated by dots); copy it again from the signed file');
  }
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const parsedHeader = header.safeParse(decodeJson(encodedHeader));
  if (!parsedHeader.success) return refuse(SignatureReason.MalformedSignature, 'spec.signature has no readable JWS header');
  const { alg, kid, crit } = parsedHeader.data;
  if (alg !== SIGNATURE_ALGORITHM) return refuse(SignatureReason.MalformedSignature, `spec.signature uses algorithm "${alg}"; licensegate licenses are signed with EdDSA (Ed25519)`);
  // RFC 7515 §4.1.11: an extension we do not understand must make the JWS invalid.
  if (crit !== undefined) return refuse(SignatureReason.MalformedSignature, 'spec.signature carries critical header extensions licensegate does not know');
  if (!kid) return refuse(SignatureReason.MalformedSignature, 'spec.signature names no key id (kid)');
  const key = keys.get(kid);
  if (!key) {
    return refuse(
      SignatureReason.UnknownSigningKey,
      `signed with key ${kid}, which is not among the vendor public keys this operator trusts (${[...keys.keys()].join(', ') || 'none configured'})`,
    );
  }
  const signature = Buffer.from(encodedSignature, 'base64url');
  const valid = signature.length === 64 && cryptoVerify(null, Buffer.from(`${encodedHeader}.${encodedPayload}`), key, signature);
  if (!valid) return refuse(SignatureReason.BadSignature, `the signature does not verify with key ${kid}: the signed license was altered`);
  const claims = licenseClaims.safeParse(decodeJson(encodedPayload));
  if (!claims.success) return refuse(SignatureReason.MalformedSignature, 'the signed payload is not a licensegate license');
  if (claims.data.kid !== kid) return refuse(SignatureReason.MalformedSignature, 'the signed payload names another key id than its header');
  return { ok: true, claims: claims.data };
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** What the operator knows when it judges a License's signature. */
export interface SignaturePolicy {
  keys: SigningKeys;
  /** Unsigned licenses are refused. */
  required: boolean;
  /** UID of this cluster's kube-system namespace; undefined if unknown (then bound licenses are refused). */
  clusterId: string | undefined;
  /** Highest sequence accepted so far for the license's customer × application (the Ledger's). */
  acceptedSequence: number | undefined;
  /**
   * Verifies a JWS against `keys`: {@link verifySignature} unless the caller passes a memoised
   * one (the Ed25519 check dominates the cost of planning; its answer depends only on the JWS
   * and the keys, which are fixed for an operator process).
   */
  verify?: (jws: string) => VerifyResult;
}

/** A License's signature, judged. */
export type SignatureVerdict =
  | { state: 'Unsigned' }
  | { state: 'Verified'; claims: LicenseClaims }
  | { state: 'Refused'; reason: SignatureReason; message: string };

/** Judges the signature of a License against the operator's keys, cluster and accepted sequence. */
export function checkLicenseSignature(
  license: { metadata: { name: string }; spec: { signature?: string | undefined; [field: string]: unknown } },
  policy: SignaturePolicy,
): SignatureVerdict {
  const jws = license.spec.signature;
  if (jws === undefined || jws === '') {
    return policy.required
      ? { state: 'Refused', reason: SignatureReason.SignatureRequired, message: 'this operator accepts only vendor-signed licenses; apply the signed license file from the vendor (licensegate activate FILE)' }
      : { state: 'Unsigned' };
  }
  const verified = policy.verify ? policy.verify(jws) : verifySignature(jws, policy.keys);
  if (!verified.ok) return { state: 'Refused', reason: verified.reason, message: verified.message };
  const { claims } = verified;
  if (claims.license !== license.metadata.name) {
    return { state: 'Refused', reason: SignatureReason.SignatureMismatch, message: `signed for License "${claims.license}", not "${license.metadata.name}"; apply the signed file unchanged` };
  }
  const live = comparableSpec(license.spec);
  const signed = comparableSpec(claims.spec);
  if (!signed.ok) return { state: 'Refused', reason: SignatureReason.MalformedSignature, message: `the signed spec is not valid: ${signed.message}` };
  if (!live.ok || live.canonical !== signed.canonical) {
    const fields = live.ok ? differingFields(live.spec, signed.spec) : ['spec'];
    return {
      state: 'Refused',
      reason: SignatureReason.SignatureMismatch,
      message: `spec differs from what the vendor signed (${fields.join(', ')}); re-apply the signed file unchanged`,
    };
  }
  if (claims.cluster !== undefined && claims.cluster !== policy.clusterId) {
    return {
      state: 'Refused',
      reason: SignatureReason.WrongCluster,
      message: `bound to cluster ${claims.cluster}, but this cluster is ${policy.clusterId ?? 'unknown'}; ask the vendor for a license bound to this cluster (licensegate cluster-id prints it)`,
    };
  }
  if (policy.acceptedSequence !== undefined && claims.sequence < policy.acceptedSequence) {
    return {
      state: 'Refused',
      reason: SignatureReason.Rollback,
      message: `sequence ${claims.sequence} is older than sequence ${policy.acceptedSequence} already accepted for this customer and application; apply the newest signed license from the vendor`,
    };
  }
  return { state: 'Verified', claims };
}

type Comparable = { ok: true; spec: Omit<LicenseSpec, 'signature'>; canonical: string } | { ok: false; message: string };

/**
 * Specs as compared, remembered by object identity: a License's spec from the informer cache
 * and the claims of a memoised verification are the same objects from one reconcile to the
 * next, so the schema parse and canonical form are computed once per version of an object.
 * (Objects handed to this module are never mutated; a changed License is a new object.)
 */
const comparableCache = new WeakMap<object, Comparable>();

function comparableSpec(spec: unknown): Comparable {
  const cacheable = typeof spec === 'object' && spec !== null;
  const known = cacheable ? comparableCache.get(spec) : undefined;
  if (known) return known;
  const parsed = signableSpec(spec);
  const result: Comparable = parsed.ok ? { ...parsed, canonical: canonicalJson(parsed.spec) } : parsed;
  if (cacheable) comparableCache.set(spec, result);
  return result;
}

/** JSON with object keys sorted at every level: equal values, equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

function differingFields(live: Record<string, unknown>, signed: Record<string, unknown>): string[] {
  const names = [...new Set([...Object.keys(live), ...Object.keys(signed)])].sort();
  return names.filter((n) => canonicalJson(live[n]) !== canonicalJson(signed[n])).map((n) => `spec.${n}`);
}
