/**
 * The operator's permissions, least privilege: every rule below names the code that needs it.
 * The Helm chart and the plain manifests are both generated from these lists.
 *
 * What RBAC cannot narrow, and why it is granted anyway:
 * - **Secrets, cluster-wide.** The operator writes one pull Secret per licensed application
 *   into every customer namespace and prunes them by label
 *   (`app.kubernetes.io/managed-by=licensegate`), watching them with one label-selected
 *   informer. RBAC has no label conditions, and customer namespaces are created at run time,
 *   so the grant is every namespace. A per-namespace RoleBinding written by the operator itself
 *   would not be narrower: to write it the operator needs `bind` on the granting role and
 *   `create` on rolebindings everywhere, i.e. the power to give itself secrets anywhere.
 *   Writes are confined after all, by the `licensegate-confine-operator` admission policy
 *   (confinement.ts): the operator may create, change and delete only Secrets that carry its
 *   label, so it cannot overwrite or remove anyone else's. Reads cannot be confined by
 *   admission; that is the trade-off.
 * - **Workloads, cluster-wide.** Customer namespaces are not known in advance; the sweep
 *   scales down, suspends or deletes unlicensed workloads wherever a customer runs.
 */
import { GROUP } from '../api/index.js';
import { WORKLOAD_RESOURCES } from '../enforcement/workload.js';
import { WEBHOOK_CONFIGURATION_NAME } from '../enforcement/webhook-config.js';

/** A Kubernetes RBAC PolicyRule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Workload resources grouped by API group, in the order WORKLOAD_RESOURCES lists them. */
function workloadsByGroup(filter: (resource: string) => boolean): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const w of WORKLOAD_RESOURCES) {
    if (filter(w.resource)) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w.resource]);
  }
  return byGroup;
}

/** Kinds the sweep never patches: a bare Pod is deleted, a PodTemplate runs nothing. */
const NOT_PATCHED = new Set(['pods', 'podtemplates']);

/** The operator's cluster-wide rules (ClusterRole `licensegate`). */
export function clusterRules(): PolicyRule[] {
  return [
    // Informers on the contract (src/operator.ts); VersionPolicies are the operator's own output.
    { apiGroups: [GROUP], resources: ['applications', 'customers', 'licenses'], verbs: ['list', 'watch'] },
    // The Customer finalizer: added by server-side apply, dropped by merge patch (reconcile/customer.ts).
    { apiGroups: [GROUP], resources: ['customers'], verbs: ['patch'] },
    // Statuses, by server-side apply (kube/writer.ts applyClusterStatus).
    { apiGroups: [GROUP], resources: ['applications/status', 'customers/status', 'licenses/status'], verbs: ['patch'] },
    // One VersionPolicy per customer namespace: applied (create on first apply), pruned.
    { apiGroups: [GROUP], resources: ['versionpolicies'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
    // Ledgers: the durable record per customer × application. Created and updated with
    // resourceVersion preconditions (claims are compare-and-swap); never deleted.
    { apiGroups: [GROUP], resources: ['ledgers'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
    // Customer namespaces: created when missing, labelled and released; never deleted.
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch', 'create', 'patch'] },
    // Pull Secrets in customer namespaces, the webhook certificate, and credentials Secrets
    // read by reference (see the header: writes are confined to labelled Secrets by admission).
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    // The default ServiceAccount of customer namespaces: the operator lists its pull Secrets there.
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch', 'patch'] },
    // Events about Licenses and Customers (in "default") and about swept workloads.
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    // The sweep watches every kind the admission policy covers...
    ...[...workloadsByGroup(() => true)].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ['list', 'watch'] })),
    // ...scales down, suspends or stops the ones running unlicensed versions (and restores them)...
    ...[...workloadsByGroup((r) => !NOT_PATCHED.has(r))].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ['patch'] })),
    // ...or deletes them (onViolation: Delete, and bare Pods).
    ...[...workloadsByGroup(() => true)].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ['delete'] })),
    // Who am I: the webhook exempts the operator's own requests by username (granted to every
    // authenticated user by system:basic-user too; stated here so the role is self-contained).
    { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
  ];
}

/**
 * Rules in the operator's own namespace (Role `licensegate`): the leader-election Lease.
 * `create` cannot be narrowed by name; get and update can.
 */
export function namespaceRules(leaseName: string): PolicyRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
  ];
}

/**
 * Only with the webhook: the chart ships the ValidatingWebhookConfiguration without a CA, and
 * the operator, which issues the webhook's certificate, keeps its caBundle current.
 */
export function webhookRules(): PolicyRule[] {
  return [
    {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['validatingwebhookconfigurations'],
      resourceNames: [WEBHOOK_CONFIGURATION_NAME],
      verbs: ['get', 'patch'],
    },
  ];
}

/**
 * Aggregated into the built-in view, edit and admin ClusterRoles: whoever may look at a
 * namespace may read its VersionPolicy (`kubectl get versionpolicy`: what may run here).
 * Writing one is refused to everyone but the operator by the protection policy.
 */
export function viewerRules(): PolicyRule[] {
  return [{ apiGroups: [GROUP], resources: ['versionpolicies'], verbs: ['get', 'list', 'watch'] }];
}

/** Labels that aggregate {@link viewerRules} into view, edit and admin. */
export const VIEWER_AGGREGATION_LABELS = {
  'rbac.authorization.k8s.io/aggregate-to-view': 'true',
  'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
  'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
} as const;

/**
 * The registry gate's cluster-wide rules (ClusterRole `licensegate-gate`): it reads the
 * contract through informers (src/gate/run.ts) and writes nothing anywhere.
 */
export function gateClusterRules(): PolicyRule[] {
  return [{ apiGroups: [GROUP], resources: ['applications', 'customers', 'licenses'], verbs: ['list', 'watch'] }];
}

/**
 * The gate's rules in its own namespace (Role `licensegate-gate`): it watches the Secrets there,
 * the per-license gate credentials and the vendor's upstream credentials. RBAC cannot narrow a
 * list/watch to those by label, so the gate can read every Secret of the operator's namespace;
 * it writes none.
 */
export function gateNamespaceRules(): PolicyRule[] {
  return [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }];
}
