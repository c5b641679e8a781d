/**
 * Building blocks shared by the licensegate API schemas. Every string that a CEL rule or a
 * pattern inspects carries a maxLength, and every list a maxItems, so the API server can
 * bound the cost of validating it.
 */
import { z } from 'zod';

/** API group and version of every licensegate resource. */
export const GROUP = 'licensegate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * Metadata key that turns a zod regex into a CEL rule with a readable message in the CRD,
 * instead of an OpenAPI `pattern` whose error only echoes the regex back.
 */
export const PATTERN_MESSAGE_KEY = 'x-licensegate-pattern-message';

/** One CEL rule as the CRD's `x-kubernetes-validations` carries it. */
export interface CelRule {
  rule: string;
  message: string;
  /** Path, relative to the schema holding the rule, that the error is reported against. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attaches CEL rules to a schema; the CRD generator copies them into the CRD. */
export function withRules<T extends z.ZodType>(schema: T, ...rules: CelRule[]): T {
  const inherited = (schema.meta()?.['x-kubernetes-validations'] as CelRule[] | undefined) ?? [];
  return schema.meta({ 'x-kubernetes-validations': [...inherited, ...rules] }) as T;
}

/**
 * A string that must match `pattern`, with one message for both the operator's own zod
 * check and the API server's CEL rule. The regex must be RE2-compatible (no lookaround).
 */
export function patternString(pattern: string, message: string, maxLength: number) {
  return z
    .string()
    .max(maxLength)
    .regex(new RegExp(pattern), message)
    .meta({ [PATTERN_MESSAGE_KEY]: message });
}

/**
 * Like {@link patternString}, but the CRD keeps a plain OpenAPI `pattern`: for short,
 * readable regexes on fields that repeat many times, where CEL's cost budget runs out.
 */
export function plainPatternString(pattern: string, message: string, maxLength: number) {
  return z.string().max(maxLength).regex(new RegExp(pattern), message);
}

/** Kubernetes object names (DNS-1123 subdomain), as used for cluster-scoped references. */
export const dnsSubdomain = patternString(
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  'must be a lowercase DNS-1123 name, such as acme-corp: letters, digits, "-" and ".", starting and ending with a letter or digit',
  253,
);

/** Namespace names (DNS-1123 label). */
export const dnsLabel = patternString(
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  'must be a lowercase DNS-1123 label of at most 63 characters, such as acme-prod',
  63,
);

/** A strict semantic version, as semver.org defines it (no leading "v"). */
export const SEMVER_PATTERN =
  '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)' +
  '(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?' +
  '(\\+[0-9a-zA-Z-]+(\\.[0-9a-zA-Z-]+)*)?$';

export const semverString = patternString(
  SEMVER_PATTERN,
  'must be a semantic version such as 2.4.1 or 3.0.0-rc.1 (no leading "v": spec.tagFormat adds it to tags)',
  64,
);

// The grammar of node-semver ranges, spelled out in pieces so that the CRD can check it
// with an RE2 regex. The operator re-checks every entry with the semver library itself.
const X_RANGE = '(x|X|\\*|0|[1-9][0-9]*)';
const PRERELEASE = '(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?';
const BUILD = '(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?';
const PARTIAL = `v?${X_RANGE}(\\.${X_RANGE}(\\.${X_RANGE}${PRERELEASE}${BUILD})?)?`;
const COMPARATOR = `((>=|<=|>|<|=|~>|~|\\^) *)?${PARTIAL}`;
const HYPHEN_RANGE = `${PARTIAL} +- +${PARTIAL}`;
const RANGE = `(${HYPHEN_RANGE}|${COMPARATOR}( +${COMPARATOR})*)`;
/** An exact version, a semver range (`>=2.5.0 <3.0.0`, `^2.4`, `2.x || 3.1.0`) or `*`. */
export const VERSION_CONSTRAINT_PATTERN = `^ *${RANGE}( *\\|\\| *${RANGE})* *$`;

export const versionConstraint = patternString(
  VERSION_CONSTRAINT_PATTERN,
  'must be an exact version (2.4.1), a semver range (">=2.5.0 <3.0.0", "^2.4", "2.x || 3.1.0") or "*"',
  64,
);

/** Durations: Go's units plus "d" for days, e.g. "72h", "7d", "1h30m". */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h|d))+$';
export const durationString = patternString(
  DURATION_PATTERN,
  'must be a duration such as 72h, 7d or 1h30m (units: ns, us, ms, s, m, h, d)',
  64,
);

/** An image digest. */
export const digestString = plainPatternString(
  '^sha256:[a-f0-9]{64}$',
  'must be an image digest: "sha256:" followed by 64 lowercase hex digits',
  71,
);

/**
 * An image repository without tag or digest: an optional registry host (with a "." or ":"
 * or "localhost"), then lowercase path components.
 */
export const IMAGE_REPOSITORY_PATTERN =
  '^(([a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*(:[0-9]+)?)/)?' +
  '[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$';
export const imageRepository = patternString(
  IMAGE_REPOSITORY_PATTERN,
  'must be an image repository without tag or digest, such as registry.example.com/acme/api or nginx',
  255,
);

/** An RFC 3339 timestamp, e.g. 2027-01-31T00:00:00Z. */
export const timestamp = z.iso.datetime({ offset: true });

/** A reference to a Secret anywhere in the cluster. */
export const secretReference = z
  .object({
    namespace: dnsLabel.describe('Namespace of the Secret; by convention the operator\'s own (licensegate-system).'),
    name: dnsSubdomain.describe('Name of the Secret.'),
  })
  .describe(
    'A Secret of type kubernetes.io/dockerconfigjson (used as is) or kubernetes.io/basic-auth (username/password, turned into a dockerconfigjson for the registry server).',
  );
export type SecretReference = z.infer<typeof secretReference>;

/** A status condition, shaped like metav1.Condition. */
export const condition = z.object({
  type: z.string().max(316).describe('Condition type, e.g. Valid, Active, ExpiringSoon, LimitReached.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  observedGeneration: z.number().int().min(0).optional().describe('The .metadata.generation this condition was computed from.'),
  lastTransitionTime: timestamp.describe('When the status last changed.'),
  reason: z.string().max(1024).describe('CamelCase machine-readable reason.'),
  message: z.string().max(32768).describe('Human-readable explanation.'),
});
export type Condition = z.infer<typeof condition>;

export const conditions = z
  .array(condition)
  .max(32)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Latest observations of the object\'s state.');

/** Metadata as the operator reads it (the API server owns its validation). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  /** Timestamps arrive as RFC 3339 strings: the operator reads the API server's JSON as is. */
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

/** A licensegate object with typed spec and status. */
export interface Resource<Kind extends string, Spec, Status = never> {
  apiVersion: typeof API_VERSION;
  kind: Kind;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
