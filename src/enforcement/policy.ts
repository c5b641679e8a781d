/**
 * The ValidatingAdmissionPolicy that enforces licenses inside the API server: it keeps
 * working while the operator is down and costs no network hop. Its params are the
 * VersionPolicy of the admitted object's namespace. CEL has no clock: the operator turns
 * time into data (an expired license is an empty grant).
 *
 * The CEL below mirrors decide.ts and image.ts step by step; a differential test holds them
 * to the same verdicts.
 */
import { ADMISSION_MODES, API_VERSION, VERSION_POLICY_NAME, type AdmissionMode } from '../api/index.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../vocabulary/labels.js';
import { REPLICATED_KINDS, SUSPENDABLE_KINDS, WORKLOAD_RESOURCES } from './workload.js';

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

/**
 * CEL turning a list of image strings into [image, normalised repository, checked] lists, as
 * vocabulary/image.ts parseImageReference() does, one step per pass over small string lists
 * (list-of-map passes, one per step, cost twice as much: bench/admission-cel.ts). "checked" is
 * '@' + the digest when there is one (it decides over the tag), else the tag, else latest.
 */
const refsOf = (images: string) =>
  // name[:tag][@digest] → [image, name, digest]
  `${images}.map(i, i.contains('@') ? [i, i.substring(0, i.indexOf('@')), i.substring(i.indexOf('@') + 1)] : [i, i, ''])` +
  // → [image, repository as written, checked]: the tag is after the last ':' only if that follows the last '/'
  ".map(r, r[1].lastIndexOf(':') > r[1].lastIndexOf('/') " +
  "? [r[0], r[1].substring(0, r[1].lastIndexOf(':')), r[2] != '' ? '@' + r[2] : r[1].substring(r[1].lastIndexOf(':') + 1)] " +
  ": [r[0], r[1], r[2] != '' ? '@' + r[2] : 'latest'])" +
  `.map(r, [r[0], ${normalized('r[1]')}, r[2]])`;

/** CEL normalising the repository `x` (no tag, no digest) as vocabulary/image.ts normalizeRepository() does. */
function normalized(x: string): string {
  // The first path part is a registry host only if it holds '.' or ':' or is localhost;
  // index.docker.io is docker.io; docker.io/x is docker.io/library/x.
  const first = `${x}.substring(0, ${x}.indexOf('/'))`;
  const rest = `${x}.substring(${x}.indexOf('/') + 1)`;
  return (
    `(!${x}.contains('/') ? 'docker.io/library/' + ${x} : ` +
    `!(${first}.contains('.') || ${first}.contains(':') || ${first} == 'localhost') ? 'docker.io/' + ${x} : ` +
    `(${first} == 'docker.io' || ${first} == 'index.docker.io') ? 'docker.io/' + (${rest}.contains('/') ? ${rest} : 'library/' + ${rest}) : ${x})`
  );
}

/** CEL: the ref `r` is gated and not granted. */
const isDenied = (r: string) =>
  `${r}[1] in params.spec.repositories && ` +
  `!(${r}[2].startsWith('@') ? ${r}[2].substring(1) in params.spec.repositories[${r}[1]].allowedDigests : ${r}[2] in params.spec.repositories[${r}[1]].allowedTags)`;

/** CEL variables, in order (each is evaluated lazily, at most once per activation). */
const VARIABLES: { name: string; expression: string }[] = [
  { name: 'images', expression: `(${images(`(${podSpec('object')})`)})` },
  { name: 'denied', expression: `${refsOf('variables.images')}.filter(r, ${isDenied('r')})` },
  {
    name: 'oldImages',
    expression: `request.operation == 'UPDATE' && oldObject != null ? (${images(`(${podSpec('oldObject')})`)}) : []`,
  },
  { name: 'added', expression: "request.operation == 'CREATE' ? variables.denied : variables.denied.filter(r, !(r[0] in variables.oldImages))" },
  {
    name: 'raised',
    expression:
      `request.operation == 'UPDATE' && oldObject != null && (` +
      `object.kind in ${list(REPLICATED_KINDS)} ? (has(object.spec.replicas) ? object.spec.replicas : 1) > (has(oldObject.spec.replicas) ? oldObject.spec.replicas : 1) : ` +
      `object.kind in ${list(SUSPENDABLE_KINDS)} ? (has(oldObject.spec.suspend) && oldObject.spec.suspend) && !(has(object.spec.suspend) && object.spec.suspend) : false)`,
  },
];

/**
 * The policy applies only when an image is refused. With no denied image both validations
 * hold, so skipping is the same verdict (for the Warn and Audit bindings too). It matters for
 * cost: the API server makes a fresh activation, with fresh variables, for the match
 * conditions, the validations, the messages (evaluated even when every validation holds) and
 * the audit annotations; skipped, an admitted request costs one activation and one parse
 * instead of four and two. Match conditions cannot read variables (the API server refuses
 * them), so this one spells the parse out. An error here fails closed (failurePolicy Fail).
 */
const REFUSES_AN_IMAGE = {
  name: 'refuses-an-image',
  expression: `${refsOf(`(${images(`(${podSpec('object')})`)})`)}.exists(r, ${isDenied('r')})`,
};

/** What a grant looks like in a refusal; decide.ts refusalMessage() says the same. */
const granted = (r: string) =>
  `(size(params.spec.repositories[${r}[1]].licenses) == 0 ? 'no active license grants ' + ${r}[1] : ` +
  `'license(s) ' + params.spec.repositories[${r}[1]].licenses.join(', ') + ' grant ' + ${r}[1] + ' tags [' + params.spec.repositories[${r}[1]].allowedTags.join(', ') + ']')`;

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
      matchConditions: [{ name: 'not-exempt', expression: exemptionExpression(options.exemptUsernames) }, REFUSES_AN_IMAGE],
      variables: VARIABLES,
      validations: [
        {
          expression: 'size(variables.added) == 0',
          messageExpression: `'licensegate: image ' + variables.added[0][0] + ' is not licensed for customer ' + params.spec.customer + ': ' + ${granted('variables.added[0]')}`,
          reason: 'Forbidden',
        },
        {
          expression: 'size(variables.denied) == 0 || !variables.raised',
          messageExpression: `'licensegate: image ' + variables.denied[0][0] + ' is not licensed, so this workload may not be scaled up for customer ' + params.spec.customer + ': ' + ${granted('variables.denied[0]')}`,
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
