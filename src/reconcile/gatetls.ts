/**
 * The registry gate's self-issued TLS (when the install gives it no certificate): the leader
 * keeps a kubernetes.io/tls Secret for the gate's hosts in its namespace, issued by a CA of
 * its own and rotated in the last third of its life, exactly as the webhook's. The gate pods
 * mount tls.crt and tls.key and reload them when they change; customers' nodes trust ca.crt.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { caUsable, issueBundle, issueServingCert, needsRotation, type TlsBundle } from '../kube/certs.js';
import type { KubeWriter } from '../kube/writer.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import type { ObjectCache } from './caches.js';

export const GATE_TLS_SECRET = 'licensegate-gate-tls';
const RECHECK_MS = 6 * 3_600_000;

function readBundle(secrets: ObjectCache<V1Secret>, namespace: string): Partial<TlsBundle> | undefined {
  const data = secrets.get(GATE_TLS_SECRET, namespace)?.data;
  if (!data) return undefined;
  const text = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));
  return { cert: text(data['tls.crt']), key: text(data['tls.key']), caCert: text(data['ca.crt']), caKey: text(data['ca.key']) };
}

export async function reconcileGateTls(deps: { writer: KubeWriter; log: Logger; namespace: string; hosts: string[]; secrets: ObjectCache<V1Secret>; clock: () => Date }): Promise<{ requeueAfterMs: number }> {
  const now = deps.clock();
  const current = readBundle(deps.secrets, deps.namespace);
  if (needsRotation(current, deps.hosts, now)) {
    const ca = current && caUsable(current, now) ? (current as TlsBundle) : undefined;
    const bundle = ca ? { ...ca, ...(await issueServingCert(ca, { hosts: deps.hosts, now })) } : await issueBundle({ hosts: deps.hosts, now });
    await deps.writer.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: GATE_TLS_SECRET, namespace: deps.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': bundle.cert, 'tls.key': bundle.key, 'ca.crt': bundle.caCert, 'ca.key': bundle.caKey },
    } as never);
    deps.log.info({ hosts: deps.hosts }, 'gate certificate issued');
  }
  return { requeueAfterMs: RECHECK_MS };
}
