/**
 * Confines the operator's ServiceAccount writes where RBAC cannot: RBAC grants `patch` on
 * every ServiceAccount in the cluster, but the operator only ever changes the `imagePullSecrets`
 * of a namespace's `default` ServiceAccount and its own annotation recording what it added
 * (src/reconcile/serviceaccounts.ts). This policy refuses the operator's identity anything
 * else: other ServiceAccounts, creating or deleting any, and any other field (the token
 * `secrets` list, automounting, labels, other annotations). Like the Secret confinement, it
 * ships with the chart and the manifests, so a compromised operator cannot lift it.
 */
import { ADDED_PULL_SECRETS_ANNOTATION, DEFAULT_SERVICE_ACCOUNT } from '../render/serviceaccount.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';

export const CONFINE_OPERATOR_SERVICEACCOUNTS_POLICY = 'licensegate-confine-operator-serviceaccounts';

/** `field` of `object`, or `empty` when absent (CEL has no optional-field equality). */
const or = (object: string, field: string, empty: string) => `(has(${object}.${field}) ? ${object}.${field} : ${empty})`;

/** The policy and its binding, for the operator's username (`system:serviceaccount:<ns>:<sa>`). */
export function renderServiceAccountConfinementObjects(options: { operatorUsername: string }) {
  const meta = { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } };
  const key = `'${ADDED_PULL_SECRETS_ANNOTATION}'`;
  const newAnnotations = or('object', 'metadata.annotations', '{}');
  const oldAnnotations = or('oldObject', 'metadata.annotations', '{}');
  const message = (what: string) =>
    `'licensegate: the operator may only change imagePullSecrets (and its ${ADDED_PULL_SECRETS_ANNOTATION} annotation) of default ServiceAccounts; ${what}'`;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: CONFINE_OPERATOR_SERVICEACCOUNTS_POLICY, ...meta },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['serviceaccounts'] }],
        },
        matchConditions: [{ name: 'is-operator', expression: `request.userInfo.username == '${options.operatorUsername}'` }],
        validations: [
          {
            expression: `request.operation == 'UPDATE' && request.name == '${DEFAULT_SERVICE_ACCOUNT}'`,
            messageExpression: `${message("' + request.operation + ' of ' + request.namespace + '/' + request.name + ' refused")}`,
            reason: 'Forbidden',
          },
          {
            // Only UPDATE gets here with both objects; the rule above refuses the rest.
            expression: `request.operation != 'UPDATE' || (` + [
              `${or('object', 'secrets', '[]')} == ${or('oldObject', 'secrets', '[]')}`,
              `${or('object', 'automountServiceAccountToken', 'true')} == ${or('oldObject', 'automountServiceAccountToken', 'true')}`,
              `${or('object', 'metadata.labels', '{}')} == ${or('oldObject', 'metadata.labels', '{}')}`,
              `${oldAnnotations}.all(k, k == ${key} || (k in ${newAnnotations} && ${newAnnotations}[k] == ${oldAnnotations}[k]))`,
              `${newAnnotations}.all(k, k == ${key} || k in ${oldAnnotations})`,
            ].join(' && ') + ')',
            messageExpression: message("' + request.namespace + '/' + request.name + ': another field changed"),
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: CONFINE_OPERATOR_SERVICEACCOUNTS_POLICY, ...meta },
      spec: { policyName: CONFINE_OPERATOR_SERVICEACCOUNTS_POLICY, validationActions: ['Deny'] },
    },
  ];
}
