import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPrivateKey, readPublicKeys } from '../../src/keys.js';
import { keyIdOf } from '../../src/licensing/signature.js';

const pub = () => generateKeyPairSync('ed25519').publicKey;
const pemOf = (k: ReturnType<typeof pub>) => k.export({ type: 'spki', format: 'pem' }) as string;

describe('readPublicKeys', () => {
  it('reads a directory laid out like a mounted ConfigMap (hidden ..data entries and symlinks)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const [a, b] = [pub(), pub()];
    mkdirSync(join(dir, '..2026_12_02'));
    writeFileSync(join(dir, '..2026_12_02', 'vendor.pem'), pemOf(a) + pemOf(b));
    symlinkSync('..2026_12_02', join(dir, '..data'));
    symlinkSync(join('..data', 'vendor.pem'), join(dir, 'vendor.pem'));
    expect([...readPublicKeys(dir).keys()].sort()).toEqual([keyIdOf(a), keyIdOf(b)].sort());
  });

  it('says which file is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    expect(() => readPublicKeys(dir)).toThrow(/bad\.pem holds no PEM block/);
    expect(() => readPublicKeys(join(dir, 'missing.pem'))).toThrow(/does not exist/);
    expect(() => readPublicKeys(mkdtempSync(join(tmpdir(), 'empty-')))).toThrow(/holds no public key file/);
  });
});

describe('readPrivateKey', () => {
  it('reads an Ed25519 PKCS#8 key and refuses others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'vendor.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(keyIdOf(readPrivateKey(join(dir, 'vendor.key')))).toBe(keyIdOf(privateKey));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    writeFileSync(join(dir, 'rsa.key'), rsa.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(() => readPrivateKey(join(dir, 'rsa.key'))).toThrow(/rsa key/);
    writeFileSync(join(dir, 'pub.key'), pemOf(pub()));
    expect(() => readPrivateKey(join(dir, 'pub.key'))).toThrow(/not a PEM private key/);
  });
});
