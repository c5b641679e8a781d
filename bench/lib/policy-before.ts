/**
 * FROZEN COPY (bench fixture) of src/enforcement/policy.ts as of commit b560116, before the cost
 * work of issue #13, kept so bench/admission-cel.ts measures old and new in the same run.
 *
 * The ValidatingAdmissionPolicy that enforces licenses inside the API server: it keeps
 * working while the operator is down and costs no network hop. Its params are the
 * VersionPolicy of the admitted object's namespace. CEL has no clock: the operator turns
 * time into data (an expired license is an empty grant).
 *
 * The CEL below mirrors decide.ts and image.ts step by step; a differential test holds them
 * to the same verdicts.
 */
import { ADMISSION_MODES, API_VERSION, VERSION_POLICY_NAME, type AdmissionMode } from '../../src/api/index.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../../src/vocabulary/labels.js';
import { REPLICATED_KINDS, SUSPENDABLE_KINDS, WORKLOAD_RESOURCES } from '../../src/enforcement/workload.js';

export const ADMISSION_POLICY_NAME = 'licensegate-versions';

export interface PolicyOptions {
  /** Users whose requests skip the check: the operator itself. */
  exemptUsernames: string[];
}

/** The default exemption: the operator's ServiceAccount as the Helm chart creates it. */
export const DEFAULT_OPERATOR_USERNAME = 'system:serviceaccount:licensegate-system:licensegate';

/** A CEL list literal of strings. */
export const celList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;
const list = celList;

/**
 * CEL that is true unless the request comes from the operator, or from a built-in controller
 * acting on objects that were admitted already (a ReplicaSet's pods, a Deployment's
 * ReplicaSets): so running workloads keep their pods during a grace period.
 */
export function exemptionExpression(exemptUsernames: string[]): string {
  return (
    `!(request.userInfo.username in ${list(exemptUsernames)}) && ` +
    "request.userInfo.username != 'system:kube-controller-manager' && " +
    "!request.userInfo.username.startsWith('system:serviceaccount:kube-system:')"
  );
}

/** The pod spec of any covered kind (a Pod arriving through pods/ephemeralcontainers too). */
const podSpec = (o: string) =>
  `${o}.kind == 'Pod' ? ${o}.spec : ${o}.kind == 'CronJob' ? ${o}.spec.jobTemplate.spec.template.spec : ${o}.kind == 'PodTemplate' ? ${o}.template.spec : ${o}.spec.template.spec`;

/** Every image of containers, init containers and ephemeral containers. */
// string() pins the element type, so the map literals below are map(string, string).
const images = (spec: string) =>
  `${spec}.containers.map(c, string(c.image))` +
  ` + (has(${spec}.initContainers) ? ${spec}.initContainers.map(c, string(c.image)) : [])` +
  ` + (has(${spec}.ephemeralContainers) ? ${spec}.ephemeralContainers.map(c, string(c.image)) : [])`;

/** CEL variables, in order; each step of image parsing is one list of string maps. */
const VARIABLES: { name: string; expression: string }[] = [
  { name: 'images', expression: `(${images(`(${podSpec('object')})`)})` },
  // name[:tag][@digest] → the digest, and the name before it.
  {
    name: 'split',
    expression:
      "variables.images.map(i, {'image': i, 'named': i.contains('@') ? i.substring(0, i.indexOf('@')) : i, 'digest': i.contains('@') ? i.substring(i.indexOf('@') + 1) : ''})",
  },
  // The tag is after the last ':' only if that follows the last '/'; no tag and no digest means latest.
  {
    name: 'tagged',
    expression:
      "variables.split.map(r, {'image': r.image, 'digest': r.digest, " +
      "'repo': r.named.lastIndexOf(':') > r.named.lastIndexOf('/') ? r.named.substring(0, r.named.lastIndexOf(':')) : r.named, " +
      "'tag': r.named.lastIndexOf(':') > r.named.lastIndexOf('/') ? r.named.substring(r.named.lastIndexOf(':') + 1) : (r.digest == '' ? 'latest' : '')})",
  },
  // The first path part is a registry host only if it holds '.' or ':' or is localhost.
  {
    name: 'hosted',
    expression:
      "variables.tagged.map(r, {'image': r.image, 'digest': r.digest, 'tag': r.tag, 'repo': r.repo, " +
      "'first': r.repo.contains('/') ? r.repo.split('/')[0] : ''})",
  },
  {
    name: 'located',
    expression:
      "variables.hosted.map(r, (r.first.contains('.') || r.first.contains(':') || r.first == 'localhost') " +
      "? {'image': r.image, 'digest': r.digest, 'tag': r.tag, 'host': r.first == 'index.docker.io' ? 'docker.io' : r.first, 'path': r.repo.substring(size(r.first) + 1)} " +
      ": {'image': r.image, 'digest': r.digest, 'tag': r.tag, 'host': 'docker.io', 'path': r.repo})",
  },
  {
    name: 'refs',
    expression:
      "variables.located.map(r, {'image': r.image, 'digest': r.digest, 'tag': r.tag, " +
      "'repo': r.host + '/' + (r.host == 'docker.io' && !r.path.contains('/') ? 'library/' + r.path : r.path)})",
  },
  // Gated and not granted: the digest decides over the tag.
  {
    name: 'denied',
    expression:
      'variables.refs.filter(r, r.repo in params.spec.repositories && ' +
      "!(r.digest != '' ? r.digest in params.spec.repositories[r.repo].allowedDigests : r.tag in params.spec.repositories[r.repo].allowedTags))",
  },
  {
    name: 'oldImages',
    expression: `request.operation == 'UPDATE' && oldObject != null ? (${images(`(${podSpec('oldObject')})`)}) : []`,
  },
  { name: 'added', expression: "request.operation == 'CREATE' ? variables.denied : variables.denied.filter(r, !(r.image in variables.oldImages))" },
  {
    name: 'raised',
    expression:
      `request.operation == 'UPDATE' && oldObject != null && (` +
      `object.kind in ${list(REPLICATED_KINDS)} ? (has(object.spec.replicas) ? object.spec.replicas : 1) > (has(oldObject.spec.replicas) ? oldObject.spec.replicas : 1) : ` +
      `object.kind in ${list(SUSPENDABLE_KINDS)} ? (has(oldObject.spec.suspend) && oldObject.spec.suspend) && !(has(object.spec.suspend) && object.spec.suspend) : false)`,
  },
];

/** What a grant looks like in a refusal; decide.ts refusalMessage() says the same. */
const granted = (r: string) =>
  `(size(params.spec.repositories[${r}.repo].licenses) == 0 ? 'no active license grants ' + ${r}.repo : ` +
  `'license(s) ' + params.spec.repositories[${r}.repo].licenses.join(', ') + ' grant ' + ${r}.repo + ' tags [' + params.spec.repositories[${r}.repo].allowedTags.join(', ') + ']')`;

/** The policy itself. */
export function renderAdmissionPolicy(options: PolicyOptions) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: ADMISSION_POLICY_NAME, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec: {
      failurePolicy: 'Fail',
      paramKind: { apiVersion: API_VERSION, kind: 'VersionPolicy' },
      matchConstraints: {
        resourceRules: [
          ...groupRules(false),
          // Ephemeral containers arrive through their own subresource.
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] },
        ],
      },
      matchConditions: [{ name: 'not-exempt', expression: exemptionExpression(options.exemptUsernames) }],
      variables: VARIABLES,
      validations: [
        {
          expression: 'size(variables.added) == 0',
          messageExpression: `'licensegate: image ' + variables.added[0].image + ' is not licensed for customer ' + params.spec.customer + ': ' + ${granted('variables.added[0]')}`,
          reason: 'Forbidden',
        },
        {
          expression: 'size(variables.denied) == 0 || !variables.raised',
          messageExpression: `'licensegate: image ' + variables.denied[0].image + ' is not licensed, so this workload may not be scaled up for customer ' + params.spec.customer + ': ' + ${granted('variables.denied[0]')}`,
          reason: 'Forbidden',
        },
      ],
    },
  };
}

function groupRules(scaleSubresources: boolean) {
  const byGroup = new Map<string, string[]>();
  for (const w of WORKLOAD_RESOURCES) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w.resource]);
  return [...byGroup].map(([group, resources]) => ({
    apiGroups: [group],
    apiVersions: ['*'],
    operations: ['CREATE', 'UPDATE'],
    resources: scaleSubresources ? resources.map((r) => `${r}/scale`) : resources,
  }));
}

const VALIDATION_ACTIONS: Record<AdmissionMode, string[]> = { Deny: ['Deny'], Warn: ['Warn'], Audit: ['Audit'] };

/**
 * One binding per admission mode. A namespace matches exactly one: its customer label must be
 * there, and its admission label selects the mode (no label means Deny, the default).
 */
export function renderAdmissionBindings() {
  return ADMISSION_MODES.map((mode) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: `${ADMISSION_POLICY_NAME}-${mode.toLowerCase()}`, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec: {
      policyName: ADMISSION_POLICY_NAME,
      validationActions: VALIDATION_ACTIONS[mode],
      paramRef: { name: VERSION_POLICY_NAME, parameterNotFoundAction: 'Deny' },
      matchResources: {
        namespaceSelector: {
          matchExpressions: [
            { key: CUSTOMER_LABEL, operator: 'Exists' },
            mode === 'Deny'
              ? { key: ADMISSION_LABEL, operator: 'NotIn', values: ADMISSION_MODES.filter((m) => m !== 'Deny') }
              : { key: ADMISSION_LABEL, operator: 'In', values: [mode] },
          ],
        },
      },
    },
  }));
}

/** The policy and its bindings, ready to apply. */
export function renderAdmissionObjects(options: PolicyOptions = { exemptUsernames: [DEFAULT_OPERATOR_USERNAME] }) {
  return [renderAdmissionPolicy(options), ...renderAdmissionBindings()];
}
