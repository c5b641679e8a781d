/**
 * The webhook's TLS material: a long-lived CA and a shorter-lived serving certificate signed
 * by it, made with @peculiar/x509 on Node's WebCrypto. Pure apart from key generation.
 */
// tsyringe, used inside @peculiar/x509, needs the Reflect metadata API before it loads.
import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** PEM-encoded certificates and keys, as stored in the webhook's TLS Secret. */
export interface TlsBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface CertOptions {
  /** DNS names (and IPs) the serving certificate is valid for. */
  hosts: string[];
  now: Date;
  caValidityDays?: number;
  certValidityDays?: number;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), ALGORITHM, true, ['sign']);
}

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

/** A CA and a serving certificate for `hosts`. */
export async function issueBundle(options: CertOptions): Promise<TlsBundle> {
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=licensegate-webhook-ca',
    notBefore: new Date(options.now.getTime() - 60_000),
    notAfter: new Date(options.now.getTime() + (options.caValidityDays ?? 3650) * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const ca_ = { caCert: ca.toString('pem'), caKey: await keyPem(caKeys.privateKey) };
  return { ...ca_, ...(await issueServingCert(ca_, options)) };
}

/** A new serving certificate from an existing CA: rotation keeps the caBundle unchanged. */
export async function issueServingCert(ca: Pick<TlsBundle, 'caCert' | 'caKey'>, options: CertOptions): Promise<Pick<TlsBundle, 'cert' | 'key'>> {
  const keys = await keyPair();
  const caCert = new x509.X509Certificate(ca.caCert);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.hosts[0]}`,
    issuer: caCert.subject,
    notBefore: new Date(options.now.getTime() - 60_000),
    notAfter: new Date(options.now.getTime() + (options.certValidityDays ?? 90) * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.caKey),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        options.hosts.map((h) => (/^[0-9.]+$/.test(h) || h.includes(':') ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h })),
      ),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** Whether the CA can sign a new serving certificate at `now` (parses, and has 30+ days left). */
export function caUsable(bundle: Partial<TlsBundle> | undefined, now: Date): boolean {
  if (!bundle?.caCert || !bundle.caKey) return false;
  try {
    return Date.parse(new NodeX509(bundle.caCert).validTo) - now.getTime() >= 30 * DAY_MS;
  } catch {
    return false;
  }
}

/**
 * Whether the serving certificate should be replaced at `now`: missing, unparsable, not for
 * these hosts, not signed by the CA, or in the last third of its life.
 */
export function needsRotation(bundle: Partial<TlsBundle> | undefined, hosts: string[], now: Date): boolean {
  if (!bundle?.cert || !bundle.caCert || !bundle.key || !bundle.caKey) return true;
  try {
    const cert = new NodeX509(bundle.cert);
    const ca = new NodeX509(bundle.caCert);
    if (!cert.verify(ca.publicKey)) return true;
    if (!hosts.every((h) => cert.checkHost(h) !== undefined || cert.checkIP(h) !== undefined)) return true;
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (!caUsable(bundle, now)) return true;
    return now.getTime() > to - (to - from) / 3;
  } catch {
    return true;
  }
}
