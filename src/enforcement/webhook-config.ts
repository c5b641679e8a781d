/** The ValidatingWebhookConfiguration that routes requests to the operator's webhook. */
import { CUSTOMER_LABEL, LIMITS_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import { exemptionExpression } from './policy.js';
import { WORKLOAD_RESOURCES } from './workload.js';

export const WEBHOOK_CONFIGURATION_NAME = 'licensegate';
export const WEBHOOK_PATH = '/validate';
/** Where the limits webhook (replicas, tokens, seats) is served, beside the version checks. */
export const LIMITS_WEBHOOK_PATH = '/limits';

/** The same endpoint with another path (a Service reference or an explicit URL). */
export function withPath(config: WebhookClientConfig, path: string): WebhookClientConfig {
  if ('url' in config) {
    const url = new URL(config.url);
    url.pathname = path;
    return { url: url.toString() };
  }
  return { service: { ...config.service, path } };
}

/**
 * Who the limits webhook does not judge: the operator, and the built-in controllers acting for
 * workloads already judged (a Deployment's ReplicaSets and Pods) — except the horizontal pod
 * autoscaler, whose scale-ups a tenant controls through its HPA's maxReplicas.
 */
export function limitsExemptionExpression(exemptUsernames: string[]): string {
  return (
    `!(request.userInfo.username in ${JSON.stringify(exemptUsernames).replaceAll('"', "'")}) && ` +
    "request.userInfo.username != 'system:kube-controller-manager' && " +
    "(!request.userInfo.username.startsWith('system:serviceaccount:kube-system:') || request.userInfo.username == 'system:serviceaccount:kube-system:horizontal-pod-autoscaler')"
  );
}
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
    namespaceSelector: { matchExpressions: [{ key: CUSTOMER_LABEL, operator: 'Exists' }] as { key: string; operator: string; values?: string[] }[] },
    matchConditions: [{ name: 'not-exempt', expression: exemptionExpression(args.exemptUsernames) }],
  };
  const byGroup = new Map<string, string[]>();
  type Rule = { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[]; scope: string };
  for (const w of WORKLOAD_RESOURCES) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w.resource]);
  const scalable = WORKLOAD_RESOURCES.filter((w) => ['Deployment', 'ReplicaSet', 'StatefulSet', 'ReplicationController'].includes(w.kind));
  const webhooks: (typeof common & { name: string; rules: Rule[] })[] = [
    {
      name: 'scale.licensegate.dev',
      ...common,
      rules: scalable.map((w): Rule => ({ apiGroups: [w.group], apiVersions: ['*'], operations: ['UPDATE'], resources: [`${w.resource}/scale`], scope: 'Namespaced' })),
    },
  ];
  // Limits: only namespaces of customers holding a limited license (the operator labels them),
  // so a webhook outage never touches anyone else; there each customer chooses how it fails.
  const limitsRules: Rule[] = [
    ...[...byGroup].map(([group, resources]): Rule => ({ apiGroups: [group], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: resources.filter((r) => r !== 'podtemplates'), scope: 'Namespaced' })),
    ...scalable.map((w): Rule => ({ apiGroups: [w.group], apiVersions: ['*'], operations: ['UPDATE'], resources: [`${w.resource}/scale`], scope: 'Namespaced' })),
  ];
  for (const [name, mode, failurePolicy] of [['limits.licensegate.dev', 'FailClosed', 'Fail'], ['limits-open.licensegate.dev', 'FailOpen', 'Ignore']] as const) {
    webhooks.push({
      name,
      ...common,
      failurePolicy,
      // Claims are side effects; on a dry run the webhook decides without recording them.
      sideEffects: 'NoneOnDryRun',
      clientConfig: { ...withPath(args.clientConfig, LIMITS_WEBHOOK_PATH), caBundle: clientConfig.caBundle },
      namespaceSelector: { matchExpressions: [{ key: LIMITS_LABEL, operator: 'In', values: [mode as string] }] },
      matchConditions: [{ name: 'not-exempt', expression: limitsExemptionExpression(args.exemptUsernames) }],
      rules: limitsRules,
    });
  }
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
