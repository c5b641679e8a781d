/**
 * Policies that protect what the operator writes: nobody but the operator edits or deletes a
 * VersionPolicy or an operator-written Secret, and nobody moves a namespace between customers
 * or out of enforcement by relabelling it. Without these a tenant with rights in its own
 * namespace could grant itself any version.
 */
import { GROUP } from '../api/index.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL, LIMITS_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import { celList, type PolicyOptions } from './policy.js';

export const PROTECT_OWNED_POLICY = 'licensegate-protect-owned';
export const PROTECT_NAMESPACES_POLICY = 'licensegate-protect-namespaces';

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
  return [ownedPolicy, ownedBinding, versionPolicyBinding, namespacesPolicy, namespacesBinding];
}
