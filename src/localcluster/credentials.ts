import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files the apiserver and controller-manager read for authentication and token signing. */
export interface ClusterCredentials {
  /** Bearer token of the admin user (group `system:masters`). */
  adminToken: string;
  /** `--token-auth-file` CSV. */
  tokenAuthFile: string;
  /** PEM RSA private key: `--service-account-signing-key-file` and the controller-manager's `--service-account-private-key-file`. */
  serviceAccountKeyFile: string;
  /** PEM public key: `--service-account-key-file`. */
  serviceAccountPublicKeyFile: string;
}

/**
 * Writes a fresh admin token and service-account signing key pair into `dir`. A static token
 * in `system:masters` is the simplest admin authentication: no client CA or certificates.
 */
export function writeClusterCredentials(dir: string): ClusterCredentials {
  const adminToken = randomBytes(24).toString('hex');
  const tokenAuthFile = join(dir, 'tokens.csv');
  // Columns: token, user name, uid, groups.
  writeFileSync(tokenAuthFile, `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const serviceAccountKeyFile = join(dir, 'sa.key');
  const serviceAccountPublicKeyFile = join(dir, 'sa.pub');
  writeFileSync(serviceAccountKeyFile, privateKey, { mode: 0o600 });
  writeFileSync(serviceAccountPublicKeyFile, publicKey);
  return { adminToken, tokenAuthFile, serviceAccountKeyFile, serviceAccountPublicKeyFile };
}
