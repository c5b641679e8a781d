import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureReason, keyIdOf, signLicense } from '../../../src/licensing/signature.js';
import { memoizedVerifier } from '../../../src/reconcile/signature-cache.js';
import { NOW, license } from '../fixtures.js';

const vendor = generateKeyPairSync('ed25519');
const keys = new Map([[keyIdOf(vendor.publicKey), vendor.publicKey]]);

describe('memoizedVerifier', () => {
  it('answers as verifySignature does, the same object the second time, and stays bounded', async () => {
    const verify = memoizedVerifier(keys, 2);
    const jws = [1, 2, 3].map((sequence) => signLicense(license(`l${sequence}`), { privateKey: vendor.privateKey, sequence, issuedAt: NOW }));
    const [a, b, c] = await Promise.all(jws);
    const first = verify(a!);
    expect(first).toMatchObject({ ok: true, claims: { license: 'l1' } });
    expect(verify(a!)).toBe(first);
    expect(verify('x.y.z')).toMatchObject({ ok: false, reason: SignatureReason.MalformedSignature });
    verify(b!);
    verify(c!);
    // Starting over after the bound: a fresh, equal answer.
    const again = verify(a!);
    expect(again).toEqual(first);
  });
});
