import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { caUsable, issueBundle, issueServingCert, needsRotation } from '../../../src/kube/certs.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const DAY = 86_400_000;
const HOSTS = ['licensegate-webhook.licensegate-system.svc', '127.0.0.1'];

describe('webhook certificates', () => {
  it('issue a serving certificate for the hosts, signed by the CA', async () => {
    const bundle = await issueBundle({ hosts: HOSTS, now: NOW });
    const cert = new X509Certificate(bundle.cert);
    expect(cert.verify(new X509Certificate(bundle.caCert).publicKey)).toBe(true);
    expect(cert.checkHost(HOSTS[0]!)).toBe(HOSTS[0]);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(new X509Certificate(bundle.caCert).ca).toBe(true);
    expect(needsRotation(bundle, HOSTS, NOW)).toBe(false);
  });

  it('rotate in the last third of the certificate life, for new hosts, or when broken', async () => {
    const bundle = await issueBundle({ hosts: HOSTS, now: NOW, certValidityDays: 90 });
    expect(needsRotation(bundle, HOSTS, new Date(NOW.getTime() + 59 * DAY))).toBe(false);
    expect(needsRotation(bundle, HOSTS, new Date(NOW.getTime() + 61 * DAY))).toBe(true);
    expect(needsRotation(bundle, ['other.svc'], NOW)).toBe(true);
    expect(needsRotation({ ...bundle, cert: 'garbage' }, HOSTS, NOW)).toBe(true);
    expect(needsRotation(undefined, HOSTS, NOW)).toBe(true);
  });

  it('keep the CA across rotations, so the caBundle stays valid', async () => {
    const bundle = await issueBundle({ hosts: HOSTS, now: NOW });
    const rotated = await issueServingCert(bundle, { hosts: HOSTS, now: new Date(NOW.getTime() + 70 * DAY) });
    expect(new X509Certificate(rotated.cert).verify(new X509Certificate(bundle.caCert).publicKey)).toBe(true);
    expect(rotated.cert).not.toBe(bundle.cert);
    expect(caUsable(bundle, NOW)).toBe(true);
    expect(caUsable(bundle, new Date(NOW.getTime() + 3640 * DAY))).toBe(false);
  });
});
