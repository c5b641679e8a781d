/** The ValidatingWebhookConfiguration that routes requests to the operator's webhook. */
import { CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import { exemptionExpression } from './policy.js';
import { WORKLOAD_RESOURCES } from './workload.js';

export const WEBHOOK_CONFIGURATION_NAME = 'licensegate';
export const WEBHOOK_PATH = '/validate';
/** Well under the API server's 30 s cap: a slow webhook must not stall the cluster. */
export const WEBHOOK_TIMEOUT_SECONDS = 5;

/** Which checks go to the webhook: only /scale (next to the admission policy), or all of them (clusters without it). */
export type AdmissionEngine = 'policy' | 'webhook';

export type WebhookClientConfig =
  | { service: { namespace: string; name: string; path: string; port: number } }
  | { url: string };

export function renderWebhookConfiguration(args: {
  engine: AdmissionEngine;
  clientConfig: WebhookClientConfig;
  caBundle: string;
  exemptUsernames: string[];
}) {
  const clientConfig = { ...args.clientConfig, caBundle: Buffer.from(args.caBundle).toString('base64') };
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    clientConfig,
    namespaceSelector: { matchExpressions: [{ key: CUSTOMER_LABEL, operator: 'Exists' }] },
    matchConditions: [{ name: 'not-exempt', expression: exemptionExpression(args.exemptUsernames) }],
  };
  const byGroup = new Map<string, string[]>();
  type Rule = { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[]; scope: string };
  for (const w of WORKLOAD_RESOURCES) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w.resource]);
  const scalable = WORKLOAD_RESOURCES.filter((w) => ['Deployment', 'ReplicaSet', 'StatefulSet', 'ReplicationController'].includes(w.kind));
  const webhooks = [
    {
      name: 'scale.licensegate.dev',
      ...common,
      rules: scalable.map((w): Rule => ({ apiGroups: [w.group], apiVersions: ['*'], operations: ['UPDATE'], resources: [`${w.resource}/scale`], scope: 'Namespaced' })),
    },
  ];
  if (args.engine === 'webhook') {
    webhooks.push({
      name: 'workloads.licensegate.dev',
      ...common,
      rules: [
        ...[...byGroup].map(([group, resources]) => ({ apiGroups: [group], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources, scope: 'Namespaced' })),
        { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'], scope: 'Namespaced' },
      ],
    });
  }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION_NAME, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    webhooks,
  };
}
