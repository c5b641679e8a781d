/**
 * Policies that protect what the operator writes: nobody but the operator edits or deletes a
 * VersionPolicy or an operator-written Secret, and nobody moves a namespace between customers
 * or out of enforcement by relabelling it. Without these a tenant with rights in its own
 * namespace could grant itself any version.
 */
import { GROUP } from '../api/index.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL, LIMITS_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import { celList, type PolicyOptions } from './policy.js';
import { NODE_SELECTOR_ANNOTATION, REPLICAS_ANNOTATION, STOPPED_NODE_LABEL, SUSPENDED_ANNOTATION, UNLICENSED_ANNOTATION } from './sweep.js';

export const PROTECT_OWNED_POLICY = 'licensegate-protect-owned';
export const PROTECT_NAMESPACES_POLICY = 'licensegate-protect-namespaces';
export const PROTECT_ENFORCEMENT_POLICY = 'licensegate-protect-enforcement';

/** The sweep's records on workloads (sweep.ts): only the operator adds, changes or removes them. */
export const ENFORCEMENT_ANNOTATIONS = [REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION, NODE_SELECTOR_ANNOTATION, UNLICENSED_ANNOTATION];

/** The workloads the sweep acts on and records on (bare Pods are only deleted, PodTemplates never touched). */
const SWEPT_RESOURCES = [
  { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['replicationcontrollers'] },
  { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'] },
];

const list = celList;

/**
 * Who may still write: the operator, the API server itself (CRD cleanup), the built-in
 * controllers (namespace deletion removes everything in it), and cluster admins
 * (system:masters): they can delete these policies anyway, so refusing them would protect
 * nothing and only get in the way of repairs. Tenants are never in that group.
 */
function privileged(options: PolicyOptions): string {
  return (
    `request.userInfo.username in ${list([...options.exemptUsernames, 'system:apiserver', 'system:kube-controller-manager'])} || ` +
    "request.userInfo.username.startsWith('system:serviceaccount:kube-system:') || " +
    "(has(request.userInfo.groups) && 'system:masters' in request.userInfo.groups)"
  );
}

const label = (object: string, key: string) =>
  `(${object} != null && has(${object}.metadata.labels) && '${key}' in ${object}.metadata.labels ? ${object}.metadata.labels['${key}'] : '')`;

const annotation = (object: string, key: string) =>
  `(${object} != null && has(${object}.metadata.annotations) && '${key}' in ${object}.metadata.annotations ? ${object}.metadata.annotations['${key}'] : '<none>')`;

const meta = { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } };

/** The policies and their bindings. */
export function renderProtectionObjects(options: PolicyOptions) {
  const ownedPolicy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: PROTECT_OWNED_POLICY, ...meta },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['versionpolicies', 'ledgers'] },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] },
        ],
      },
      validations: [
        {
          expression: privileged(options),
          messageExpression:
            "'licensegate: ' + request.resource.resource + ' ' + request.name + ' is written only by the licensegate operator; change the License or Customer instead'",
          reason: 'Forbidden',
        },
      ],
    },
  };
  // Secrets: only those carrying the operator's label (before or after the change) are protected.
  const ownedBinding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: PROTECT_OWNED_POLICY, ...meta },
    spec: {
      policyName: PROTECT_OWNED_POLICY,
      validationActions: ['Deny'],
      matchResources: { objectSelector: { matchLabels: { [MANAGED_BY_LABEL]: MANAGED_BY } } },
    },
  };
  const versionPolicyBinding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: `${PROTECT_OWNED_POLICY}-versionpolicies`, ...meta },
    spec: {
      policyName: PROTECT_OWNED_POLICY,
      validationActions: ['Deny'],
      // Every VersionPolicy and Ledger, labelled or not: nobody may create one where none is
      // yet (a forged Ledger could hand out seats, tokens or a fresh trial).
      matchResources: { resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['versionpolicies', 'ledgers'] }] },
    },
  };
  const namespacesPolicy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: PROTECT_NAMESPACES_POLICY, ...meta },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'] }],
      },
      validations: [CUSTOMER_LABEL, ADMISSION_LABEL, LIMITS_LABEL].map((key) => ({
        expression: `${privileged(options)} || ${label('object', key)} == ${label('oldObject', key)}`,
        message: `licensegate: the label ${key} is set only by the licensegate operator; change the Customer's spec instead`,
        reason: 'Forbidden',
      })),
    },
  };
  const namespacesBinding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: PROTECT_NAMESPACES_POLICY, ...meta },
    spec: { policyName: PROTECT_NAMESPACES_POLICY, validationActions: ['Deny'] },
  };
  // The sweep's memory on workloads: a forged replica record would be "restored" by the
  // operator, which admission exempts, past every limit; a removed one loses the count to
  // restore. A DaemonSet the sweep stopped stays stopped until the operator restarts it.
  const stoppedSelector = (object: string) =>
    `(has(${object}.spec.template.spec.nodeSelector) && '${STOPPED_NODE_LABEL}' in ${object}.spec.template.spec.nodeSelector)`;
  const enforcementPolicy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: PROTECT_ENFORCEMENT_POLICY, ...meta },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: SWEPT_RESOURCES },
      validations: [
        ...ENFORCEMENT_ANNOTATIONS.map((key) => ({
          expression: `${privileged(options)} || ${annotation('object', key)} == ${annotation('oldObject', key)}`,
          message: `licensegate: the annotation ${key} is the operator's record of an enforcement action and is set only by the licensegate operator; leave it as it is`,
          reason: 'Forbidden',
        })),
        {
          expression: `${privileged(options)} || oldObject == null || request.kind.kind != 'DaemonSet' || !${stoppedSelector('oldObject')} || ${stoppedSelector('object')}`,
          message: `licensegate: this DaemonSet was stopped by license enforcement (nodeSelector ${STOPPED_NODE_LABEL}); it restarts when its license is valid again`,
          reason: 'Forbidden',
        },
      ],
    },
  };
  // Only in customer namespaces (tenants cannot remove that label: see the namespaces policy).
  const enforcementBinding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: PROTECT_ENFORCEMENT_POLICY, ...meta },
    spec: {
      policyName: PROTECT_ENFORCEMENT_POLICY,
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchExpressions: [{ key: CUSTOMER_LABEL, operator: 'Exists' }] } },
    },
  };
  return [ownedPolicy, ownedBinding, versionPolicyBinding, namespacesPolicy, namespacesBinding, enforcementPolicy, enforcementBinding];
}
