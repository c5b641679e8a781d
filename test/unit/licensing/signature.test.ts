import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { CompactSign, calculateJwkThumbprint, compactVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  SignatureReason,
  canonicalJson,
  checkLicenseSignature,
  keyIdOf,
  parsePublicKeys,
  signLicense,
  verifySignature,
  type SignaturePolicy,
} from '../../../src/licensing/signature.js';
import { NOW, license } from '../fixtures.js';

const vendor = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const KID = keyIdOf(vendor.publicKey);
const CLUSTER = '3f1c2a8e-1111-4c3b-9d6e-000000000001';

const LICENSE = license('globex-analytics', { versions: ['>=2.0.0 <3.0.0'], expiresAt: '2027-01-01T00:00:00Z' });

const policy = (overrides: Partial<SignaturePolicy> = {}): SignaturePolicy => ({
  keys: new Map([[KID, vendor.publicKey]]),
  required: false,
  clusterId: CLUSTER,
  acceptedSequence: undefined,
  ...overrides,
});

const signed = async (options: { sequence?: number; cluster?: string; key?: KeyObject; of?: typeof LICENSE } = {}) => {
  const of = options.of ?? LICENSE;
  const signature = await signLicense(of, {
    privateKey: options.key ?? vendor.privateKey,
    sequence: options.sequence ?? 1,
    issuedAt: NOW,
    ...(options.cluster ? { cluster: options.cluster } : {}),
  });
  return { ...of, spec: { ...of.spec, signature } };
};

describe('key ids', () => {
  it('are the RFC 7638 JWK thumbprint, as jose computes it', async () => {
    expect(KID).toBe(await calculateJwkThumbprint(vendor.publicKey.export({ format: 'jwk' }) as never));
  });
  it('are the same from the private and the public key, and differ between keys', () => {
    expect(keyIdOf(vendor.privateKey)).toBe(KID);
    expect(keyIdOf(other.publicKey)).not.toBe(KID);
    expect(KID).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
  it('refuse keys that are not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => keyIdOf(rsa.publicKey)).toThrow(/Ed25519/);
  });
});

describe('public key bundles', () => {
  const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
  it('parse several PEM blocks into keys by key id', () => {
    const result = parsePublicKeys(`# vendor keys\n${pem(vendor.publicKey)}\n${pem(other.publicKey)}`);
    expect(result.ok && [...result.keys.keys()].sort()).toEqual([KID, keyIdOf(other.publicKey)].sort());
  });
  it.each([
    ['no PEM block', 'hello', /no PEM block/],
    ['a private key', vendor.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, /PRIVATE KEY/],
    ['a damaged block', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', /not a valid public key/],
    ['an RSA key', pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), /rsa key/],
  ])('refuse %s with a message', (_name, text, message) => {
    const result = parsePublicKeys(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });
});

describe('sign and verify', () => {
  it('round trip: the claims carry name, spec without signature, sequence, issue time, key id, cluster', async () => {
    const lic = await signed({ sequence: 7, cluster: CLUSTER });
    const result = verifySignature(lic.spec.signature, policy().keys);
    expect(result).toMatchObject({ ok: true, claims: { license: 'globex-analytics', sequence: 7, issuedAt: '2026-03-01T12:00:00Z', kid: KID, cluster: CLUSTER } });
    expect(result.ok && result.claims.spec).not.toHaveProperty('signature');
    expect(result.ok && result.claims.spec).toMatchObject({ versions: ['>=2.0.0 <3.0.0'], expiresAt: '2027-01-01T00:00:00Z' });
    expect(checkLicenseSignature(lic, policy())).toMatchObject({ state: 'Verified' });
  });

  it('is a standard JWS: jose verifies what we sign, and we verify what jose signs', async () => {
    const lic = await signed();
    const { payload, protectedHeader } = await compactVerify(lic.spec.signature, vendor.publicKey);
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: KID, typ: 'licensegate-license+jws' });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ license: 'globex-analytics' });
    const claims = { license: 'x', spec: { customer: 'c', application: 'a', versions: ['1.0.0'] }, sequence: 1, issuedAt: '2026-01-01T00:00:00Z', kid: KID };
    const byJose = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: KID }).sign(vendor.privateKey);
    expect(verifySignature(byJose, policy().keys)).toMatchObject({ ok: true, claims: { license: 'x' } });
  });

  it('a payload with any changed byte fails', async () => {
    const jws = (await signed()).spec.signature;
    const [h, p, s] = jws.split('.') as [string, string, string];
    const payload = Buffer.from(p, 'base64url');
    await fc.assert(
      fc.property(fc.nat({ max: payload.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, flip) => {
        const changed = Buffer.from(payload);
        changed[index] = changed[index]! ^ flip;
        const result = verifySignature(`${h}.${changed.toString('base64url')}.${s}`, policy().keys);
        expect(result.ok).toBe(false);
        expect(!result.ok && result.reason).toBe(SignatureReason.BadSignature);
      }),
      { numRuns: 200 },
    );
  });

  it('a changed signature byte fails', async () => {
    const jws = (await signed()).spec.signature;
    const [h, p, s] = jws.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10] = sig[10]! ^ 1;
    expect(verifySignature(`${h}.${p}.${sig.toString('base64url')}`, policy().keys)).toMatchObject({ ok: false, reason: SignatureReason.BadSignature });
  });

  it('the signature is deterministic (Ed25519) and independent of key order in the spec', async () => {
    const reordered = { ...LICENSE, spec: Object.fromEntries(Object.entries(LICENSE.spec).reverse()) as typeof LICENSE.spec };
    expect(checkLicenseSignature({ ...reordered, spec: { ...reordered.spec, signature: (await signed()).spec.signature } }, policy())).toMatchObject({ state: 'Verified' });
  });
});

describe('every refusal reason', () => {
  it('UnknownSigningKey: signed by a key the operator does not trust', async () => {
    const lic = await signed({ key: other.privateKey });
    const verdict = checkLicenseSignature(lic, policy());
    expect(verdict).toMatchObject({ state: 'Refused', reason: SignatureReason.UnknownSigningKey });
    expect(verdict.state === 'Refused' && verdict.message).toContain(keyIdOf(other.publicKey));
  });

  it('BadSignature: a header naming the trusted key over another key\'s signature', async () => {
    const claims = { license: LICENSE.metadata.name, spec: LICENSE.spec, sequence: 1, issuedAt: '2026-01-01T00:00:00Z', kid: KID };
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: KID }).sign(other.privateKey);
    expect(checkLicenseSignature({ ...LICENSE, spec: { ...LICENSE.spec, signature: forged } }, policy())).toMatchObject({ reason: SignatureReason.BadSignature });
  });

  it('SignatureMismatch: spec edited after signing names the field', async () => {
    const lic = await signed();
    const verdict = checkLicenseSignature({ ...lic, spec: { ...lic.spec, expiresAt: '2099-01-01T00:00:00Z' } }, policy());
    expect(verdict).toMatchObject({ state: 'Refused', reason: SignatureReason.SignatureMismatch });
    expect(verdict.state === 'Refused' && verdict.message).toContain('spec.expiresAt');
  });

  it('SignatureMismatch: the signature copied onto a License of another name', async () => {
    const lic = await signed();
    expect(checkLicenseSignature({ ...lic, metadata: { name: 'other' } }, policy())).toMatchObject({ reason: SignatureReason.SignatureMismatch });
  });

  it('schema defaults the API server adds do not count as a change', async () => {
    const bare = { metadata: { name: 'bare' }, spec: { customer: 'globex', application: 'analytics', versions: ['1.0.0'] } };
    const lic = await signed({ of: bare as never });
    const asStored = { ...lic, spec: { ...lic.spec, suspended: false, type: 'Commercial' } };
    expect(checkLicenseSignature(asStored, policy())).toMatchObject({ state: 'Verified' });
  });

  it('WrongCluster: bound to another cluster, or this cluster unknown', async () => {
    const lic = await signed({ cluster: 'another-cluster-uid' });
    expect(checkLicenseSignature(lic, policy())).toMatchObject({ reason: SignatureReason.WrongCluster });
    expect(checkLicenseSignature(await signed({ cluster: CLUSTER }), policy({ clusterId: undefined }))).toMatchObject({ reason: SignatureReason.WrongCluster });
    expect(checkLicenseSignature(await signed({ cluster: CLUSTER }), policy())).toMatchObject({ state: 'Verified' });
  });

  it('Rollback: a sequence lower than the accepted one; equal or higher passes', async () => {
    expect(checkLicenseSignature(await signed({ sequence: 2 }), policy({ acceptedSequence: 3 }))).toMatchObject({ reason: SignatureReason.Rollback });
    expect(checkLicenseSignature(await signed({ sequence: 3 }), policy({ acceptedSequence: 3 }))).toMatchObject({ state: 'Verified' });
    expect(checkLicenseSignature(await signed({ sequence: 4 }), policy({ acceptedSequence: 3 }))).toMatchObject({ state: 'Verified' });
  });

  it('SignatureRequired: unsigned while required; unsigned is fine otherwise', () => {
    expect(checkLicenseSignature(LICENSE, policy({ required: true }))).toMatchObject({ state: 'Refused', reason: SignatureReason.SignatureRequired });
    expect(checkLicenseSignature(LICENSE, policy())).toEqual({ state: 'Unsigned' });
  });

  it.each([
    ['empty parts', 'a..b'],
    ['two parts (truncated)', 'eyJhbGciOiJFZERTQSJ9.eyJ9'],
    ['not base64url', 'a b.c.d'],
    ['no signature part', 'eyJhbGciOiJFZERTQSJ9.e30.'],
  ])('MalformedSignature: %s', (_name, jws) => {
    expect(verifySignature(jws, policy().keys)).toMatchObject({ ok: false, reason: SignatureReason.MalformedSignature });
  });

  it('MalformedSignature: another algorithm, no key id, a critical extension, claims that are not a license', async () => {
    const sign = async (header: Record<string, unknown>, payload: unknown) => {
      const h = Buffer.from(JSON.stringify(header)).toString('base64url');
      const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${h}.${p}.${cryptoSign(null, Buffer.from(`${h}.${p}`), vendor.privateKey).toString('base64url')}`;
    };
    const claims = { license: 'x', spec: {}, sequence: 1, issuedAt: '2026-01-01T00:00:00Z', kid: KID };
    for (const [header, payload] of [
      [{ alg: 'HS256', kid: KID }, claims],
      [{ alg: 'EdDSA' }, claims],
      [{ alg: 'EdDSA', kid: KID, crit: ['exp'] }, claims],
      [{ alg: 'EdDSA', kid: KID }, { hello: 'world' }],
      [{ alg: 'EdDSA', kid: KID }, { ...claims, kid: 'someone-else' }],
    ] as const) {
      expect(verifySignature(await sign(header, payload), policy().keys), JSON.stringify(header)).toMatchObject({ reason: SignatureReason.MalformedSignature });
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const verdict = checkLicenseSignature({ ...LICENSE, spec: { ...LICENSE.spec, signature: text } }, policy());
        expect(verdict.state === 'Unsigned' || verdict.state === 'Refused').toBe(true);
      }),
    );
  });
});

describe('canonicalJson', () => {
  it('is the same for equal values whatever the key order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(value));
      }),
    );
  });
});
