/**
 * The admission objects an install ships, built from the operator's own render functions
 * (src/enforcement) so that the chart, the manifests and an operator that installs them
 * itself (LICENSEGATE_INSTALL_ADMISSION_POLICY=true) agree.
 */
import { renderAdmissionObjects } from '../enforcement/policy.js';
import { renderProtectionObjects } from '../enforcement/protection.js';
import { renderWebhookConfiguration, WEBHOOK_PATH, type AdmissionEngine } from '../enforcement/webhook-config.js';
import { renderConfinementObjects } from './confinement.js';
import { renderServiceAccountConfinementObjects } from './confinement-serviceaccounts.js';

/** A plain Kubernetes object as the render functions return it. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

/** The version check (only where the admission policy is the engine). */
export function versionCheckObjects(operatorUsername: string): Manifest[] {
  return renderAdmissionObjects({ exemptUsernames: [operatorUsername] });
}

/** Protection of what the operator writes, and the operator's own confinement. */
export function protectionObjects(operatorUsername: string): Manifest[] {
  return [...renderProtectionObjects({ exemptUsernames: [operatorUsername] }), ...renderConfinementObjects({ operatorUsername }), ...renderServiceAccountConfinementObjects({ operatorUsername })];
}

/**
 * The ValidatingWebhookConfiguration for the webhook Service, shipped without a caBundle: the
 * operator issues the webhook's certificate and writes the caBundle itself. Leaving the field
 * out (rather than empty) keeps a `helm upgrade` or `kubectl apply` from erasing it.
 */
export function webhookConfiguration(args: { engine: AdmissionEngine; namespace: string; service: string; operatorUsername: string }): Manifest {
  const rendered = renderWebhookConfiguration({
    engine: args.engine,
    clientConfig: { service: { namespace: args.namespace, name: args.service, path: WEBHOOK_PATH, port: 443 } },
    caBundle: '',
    exemptUsernames: [args.operatorUsername],
  });
  const webhooks = rendered.webhooks.map((w) => {
    const { caBundle: _omitted, ...clientConfig } = w.clientConfig as typeof w.clientConfig & { caBundle?: string };
    return { ...w, clientConfig };
  });
  return { ...rendered, webhooks };
}
