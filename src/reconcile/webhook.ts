/**
 * Keeps the webhook's TLS Secret and the webhook configuration's caBundle in line (leader),
 * and hands the certificate to this replica's webhook server (every replica).
 */
import { KubernetesObjectApi, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { isNotFound } from '../kube/errors.js';
import { sameJson } from './equality.js';
import type { Logger } from 'pino';
import { caUsable, issueBundle, issueServingCert, needsRotation, type TlsBundle } from '../kube/certs.js';
import { renderWebhookConfiguration, WEBHOOK_CONFIGURATION_NAME, type AdmissionEngine, type WebhookClientConfig } from '../enforcement/webhook-config.js';
import type { KubeWriter } from '../kube/writer.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import type { ObjectCache } from './caches.js';

export const WEBHOOK_TLS_SECRET = 'licensegate-webhook-tls';
/** How often the leader re-checks the certificate when nothing else wakes it. */
const RECHECK_MS = 6 * 3_600_000;

export interface WebhookCertDeps {
  kc: KubeConfig;
  writer: KubeWriter;
  log: Logger;
  namespace: string;
  hosts: string[];
  secrets: ObjectCache<V1Secret>;
  clock: () => Date;
  /** Set when the operator owns the whole webhook configuration (else it only keeps the caBundle of an existing one). */
  configuration: { engine: AdmissionEngine; clientConfig: WebhookClientConfig; exemptUsernames: string[] } | undefined;
}

/** Reads the TLS bundle from the Secret in the cache. */
export function readTlsBundle(secrets: ObjectCache<V1Secret>, namespace: string): TlsBundle | undefined {
  const data = secrets.get(WEBHOOK_TLS_SECRET, namespace)?.data;
  if (!data?.['tls.crt'] || !data['tls.key'] || !data['ca.crt'] || !data['ca.key']) return undefined;
  const text = (v: string) => Buffer.from(v, 'base64').toString('utf8');
  return { cert: text(data['tls.crt']), key: text(data['tls.key']), caCert: text(data['ca.crt']), caKey: text(data['ca.key']) };
}

/** Leader: issues or rotates the serving certificate and syncs the caBundle. Returns when to look again. */
export async function reconcileWebhookCerts(deps: WebhookCertDeps): Promise<{ requeueAfterMs: number }> {
  const now = deps.clock();
  let bundle = readTlsBundle(deps.secrets, deps.namespace);
  if (needsRotation(bundle, deps.hosts, now)) {
    // Keep the CA while it is good, so the caBundle stays valid across rotations.
    const caStillGood = bundle && caUsable(bundle, now) ? bundle : undefined;
    bundle = caStillGood
      ? { ...caStillGood, ...(await issueServingCert(caStillGood, { hosts: deps.hosts, now })) }
      : await issueBundle({ hosts: deps.hosts, now });
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: WEBHOOK_TLS_SECRET, namespace: deps.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': bundle.cert, 'tls.key': bundle.key, 'ca.crt': bundle.caCert, 'ca.key': bundle.caKey },
    };
    await deps.writer.apply(secret as never);
    deps.log.info({ hosts: deps.hosts }, 'webhook certificate issued');
  }
  if (deps.configuration) {
    const desired = renderWebhookConfiguration({ ...deps.configuration, caBundle: bundle!.caCert });
    const live = await KubernetesObjectApi.makeApiClient(deps.kc)
      .read({ apiVersion: desired.apiVersion, kind: desired.kind, metadata: { name: desired.metadata.name } })
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    const liveWebhooks = (live as { webhooks?: { name: string; clientConfig?: unknown; rules?: unknown }[] } | undefined)?.webhooks;
    const same =
      liveWebhooks?.length === desired.webhooks.length &&
      desired.webhooks.every((w, i) => sameJson(w.clientConfig, liveWebhooks[i]?.clientConfig) && sameJson(w.rules, liveWebhooks[i]?.rules));
    if (!same) await deps.writer.apply(desired as never);
  } else {
    await syncCaBundle(deps, bundle!.caCert);
  }
  return { requeueAfterMs: RECHECK_MS };
}

/**
 * For a webhook configuration someone else ships (the Helm chart): keep only its caBundle in
 * line, with a JSON patch that first tests each webhook's name, so a concurrent reordering
 * cannot put the CA on the wrong entry. A missing configuration is fine: the webhook is off.
 */
async function syncCaBundle(deps: WebhookCertDeps, caCert: string): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(deps.kc);
  const ref = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: WEBHOOK_CONFIGURATION_NAME } };
  const live = (await client.read(ref).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  })) as { webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] } | undefined;
  const ca = Buffer.from(caCert).toString('base64');
  const patch = (live?.webhooks ?? []).flatMap((w, i) =>
    w.clientConfig?.caBundle === ca
      ? []
      : [
          { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
          { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: ca },
        ],
  );
  if (patch.length === 0) return;
  await deps.writer.patchWebhookConfiguration(WEBHOOK_CONFIGURATION_NAME, patch);
  deps.log.info({ webhooks: patch.length / 2 }, 'webhook caBundle updated');
}
