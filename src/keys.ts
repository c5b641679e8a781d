/**
 * Reading vendor keys from files (shell): the operator's trusted public keys and the CLI's
 * signing key. Every failure is an Error whose message says which file and what to do.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parsePublicKeys } from './licensing/signature.js';

/** Files of a key directory that hold public keys (a mounted ConfigMap also has dot-entries). */
const PUBLIC_KEY_FILE = /\.(pem|pub|crt)$/;

/** Public keys by key id from a PEM bundle file, or from every *.pem / *.pub file of a directory. */
export function readPublicKeys(path: string): Map<string, KeyObject> {
  const files = isDirectory(path)
    ? readdirSync(path).filter((f) => PUBLIC_KEY_FILE.test(f) && !f.startsWith('.')).map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new Error(`${path} holds no public key file (*.pem or *.pub)`);
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    const result = parsePublicKeys(readText(file, 'public key'), file);
    if (!result.ok) throw new Error(result.message);
    for (const [kid, key] of result.keys) keys.set(kid, key);
  }
  return keys;
}

/** The vendor's Ed25519 signing key from a PKCS#8 PEM file (what licensegate keygen writes). */
export function readPrivateKey(path: string): KeyObject {
  const text = readText(path, 'signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new Error(`${path} is not a PEM private key; pass the vendor.key that licensegate keygen wrote`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} holds a ${key.asymmetricKeyType} key; licensegate signs with Ed25519 keys (licensegate keygen makes one)`);
  return key;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what} file ${path} does not exist` : `cannot read ${what} file ${path}: ${(error as Error).message}`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`public key path ${path} does not exist`);
    throw error;
  }
}
