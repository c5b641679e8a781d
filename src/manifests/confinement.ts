/**
 * An admission policy that confines the operator itself where RBAC cannot: RBAC grants Secrets
 * by resource, not by label, so the operator's ClusterRole allows writing any Secret anywhere.
 * This policy lets the operator's ServiceAccount create, change or delete only Secrets that
 * carry its label (before and after the change): it cannot overwrite, adopt or remove a Secret
 * it did not write. It ships with the chart and the manifests, not with the operator, so a
 * compromised operator cannot lift it (its RBAC has no write access to admission policies).
 */
import { MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';

export const CONFINE_OPERATOR_POLICY = 'licensegate-confine-operator';

const labelled = (object: string) =>
  `(${object} == null || (has(${object}.metadata.labels) && '${MANAGED_BY_LABEL}' in ${object}.metadata.labels && ${object}.metadata.labels['${MANAGED_BY_LABEL}'] == '${MANAGED_BY}'))`;

/** The policy and its binding, for the operator's username (`system:serviceaccount:<ns>:<sa>`). */
export function renderConfinementObjects(options: { operatorUsername: string }) {
  const meta = { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } };
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: CONFINE_OPERATOR_POLICY, ...meta },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] }],
        },
        matchConditions: [{ name: 'is-operator', expression: `request.userInfo.username == '${options.operatorUsername}'` }],
        validations: [
          {
            expression: `${labelled('object')} && ${labelled('oldObject')}`,
            messageExpression: `'licensegate: the operator may only write Secrets labelled ${MANAGED_BY_LABEL}=${MANAGED_BY}; ' + request.namespace + '/' + request.name + ' is not one'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: CONFINE_OPERATOR_POLICY, ...meta },
      spec: { policyName: CONFINE_OPERATOR_POLICY, validationActions: ['Deny'] },
    },
  ];
}
