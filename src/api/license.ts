/** License: one customer × one application (cluster-scoped). */
import { z } from 'zod';
import {
  conditions,
  dnsSubdomain,
  durationString,
  secretReference,
  semverString,
  timestamp,
  versionConstraint,
  withRules,
  type Resource,
} from './common.js';
import type { ResourceDefinition } from './definition.js';

export const LICENSE_TYPES = ['Commercial', 'Trial', 'Free'] as const;
export type LicenseType = (typeof LICENSE_TYPES)[number];
export const TOKEN_MODES = ['Team', 'Mono'] as const;
export type TokenMode = (typeof TOKEN_MODES)[number];
export const LICENSE_PHASES = ['Active', 'Pending', 'Expired', 'Suspended', 'Invalid'] as const;
export type LicensePhase = (typeof LICENSE_PHASES)[number];

export const licenseLimits = withRules(
  z.object({
    maxReplicas: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .describe('Most pods of this application that may run at once across the customer\'s namespaces.'),
    concurrentNamespaces: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .optional()
      .describe('Floating tokens: in how many of the customer\'s namespaces the application may run at the same time.'),
    tokenMode: z
      .enum(TOKEN_MODES)
      .optional()
      .describe('How floating tokens are held: Team (a token per namespace, shared by all its workloads) or Mono (a token per workload). Default Team.'),
    seats: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .describe('Named seats; spec.assignees lists who holds them.'),
  }),
  {
    rule: '!has(self.tokenMode) || has(self.concurrentNamespaces)',
    message: 'tokenMode needs limits.concurrentNamespaces: it says how those tokens are held',
    fieldPath: '.tokenMode',
  },
);
export type LicenseLimits = z.infer<typeof licenseLimits>;

export const assignee = z.object({
  kind: z.enum(['User', 'Group']).describe('User or Group, as the API server authenticates them.'),
  name: z.string().min(1).max(256).describe('User or group name, e.g. jane@acme.example or acme:developers.'),
});
export type Assignee = z.infer<typeof assignee>;

export const licenseSpec = withRules(
  z.object({
    customer: withRules(dnsSubdomain.min(1), {
      rule: 'self == oldSelf',
      message: 'customer is immutable: create a new License for another customer',
    }).describe('Name of the Customer this license is for.'),
    application: withRules(dnsSubdomain.min(1), {
      rule: 'self == oldSelf',
      message: 'application is immutable: create a new License for another application',
    }).describe('Name of the Application this license grants.'),
    versions: z
      .array(versionConstraint)
      .min(1)
      .max(20)
      .describe(
        'Granted versions: exact versions (2.4.1), semver ranges (">=2.5.0 <3.0.0") or "*" for every version. Ranges resolve against the application\'s catalogue.',
      ),
    revokedVersions: z
      .array(semverString)
      .max(200)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Versions withdrawn from this license even though spec.versions matches them (e.g. a release with a security flaw).'),
    notBefore: timestamp.optional().describe('The license is Pending until this time (RFC 3339).'),
    expiresAt: timestamp
      .optional()
      .describe('When the license expires (RFC 3339). Absent means perpetual.'),
    gracePeriod: durationString
      .optional()
      .describe('How long after expiry running workloads are left alone before enforcement acts, e.g. 72h or 7d. New deployments are refused from expiry on.'),
    suspended: z.boolean().default(false).describe('Suspends the license at once; set back to false to resume.'),
    type: z
      .enum(LICENSE_TYPES)
      .default('Commercial')
      .describe('Commercial, Trial (runs spec.trialDays from first activation; one trial per customer and application, ever) or Free (limits apply).'),
    trialDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .optional()
      .describe('Length of a Trial in days, counted from first activation. Default 14.'),
    limits: licenseLimits.optional().describe('Usage limits; absent means unlimited.'),
    assignees: z
      .array(assignee)
      .max(10_000)
      .optional()
      .describe('Users and groups holding the license\'s seats.'),
    requires: z
      .array(dnsSubdomain)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Names of base licenses that must be Active for this add-on license to be Active.'),
    registryCredentialsSecret: secretReference
      .optional()
      .describe('Pull credentials for this license, overriding the application\'s spec.registry.credentialsSecret.'),
    signature: z
      .string()
      .max(65536)
      .optional()
      .describe(
        'The vendor-signed form of this license (compact JWS, EdDSA/Ed25519, made by licensegate sign): its payload holds the license name, this spec without the signature, a sequence, the issue time, the key id and optionally the cluster it is bound to. When set, the operator judges the license by it: a spec that differs, an unknown key, a bad signature, another cluster or an older sequence make the license Invalid.',
      ),
  }),
  {
    rule: '!has(self.notBefore) || !has(self.expiresAt) || timestamp(self.expiresAt) > timestamp(self.notBefore)',
    message: 'expiresAt must be later than notBefore',
    fieldPath: '.expiresAt',
  },
  {
    rule: "!has(self.trialDays) || self.type == 'Trial'",
    message: 'trialDays applies only to licenses of type Trial',
    fieldPath: '.trialDays',
  },
  {
    rule: '!has(self.assignees) || (has(self.limits) && has(self.limits.seats) && size(self.assignees) <= self.limits.seats)',
    message: 'assignees need limits.seats, and there may be no more assignees than seats',
    fieldPath: '.assignees',
  },
);
export type LicenseSpec = z.infer<typeof licenseSpec>;

export const licenseUsage = z.object({
  replicas: z.number().int().min(0).optional().describe('Pods of the application running under this license.'),
  namespaces: z.array(z.string().max(63)).max(10_000).optional().describe('Namespaces holding a floating token.'),
  seats: z.number().int().min(0).optional().describe('Seats assigned.'),
});

export const licenseStatus = z.object({
  observedGeneration: z.number().int().min(0).optional(),
  phase: z.enum(LICENSE_PHASES).optional().describe('Active, Pending (before notBefore), Expired, Suspended or Invalid.'),
  versions: z.string().max(1024).optional().describe('spec.versions as one line, for kubectl get (which prints lists as escaped JSON).'),
  grantedVersions: z
    .array(z.string().max(128))
    .max(1000)
    .optional()
    .describe('Catalogue versions this license grants right now (empty unless Active).'),
  effectiveExpiresAt: timestamp.optional().describe('When the license stops granting (expiresAt, or the end of a trial), if ever.'),
  trialStartedAt: timestamp.optional().describe('First activation of a Trial.'),
  usage: licenseUsage.optional(),
  conditions: conditions.optional(),
});
export type LicenseStatus = z.infer<typeof licenseStatus>;

export type License = Resource<'License', LicenseSpec, LicenseStatus>;

export const licenseDefinition: ResourceDefinition = {
  kind: 'License',
  plural: 'licenses',
  singular: 'license',
  shortNames: ['lic'],
  scope: 'Cluster',
  description: 'A license granting one customer versions of one application, for a time and within limits.',
  spec: licenseSpec,
  status: licenseStatus,
  objectRules: [
    {
      rule: '!has(self.spec.requires) || !(self.metadata.name in self.spec.requires)',
      message: 'a license cannot require itself',
      fieldPath: '.spec.requires',
    },
  ],
  printerColumns: [
    { name: 'Customer', type: 'string', jsonPath: '.spec.customer' },
    { name: 'Application', type: 'string', jsonPath: '.spec.application' },
    { name: 'Versions', type: 'string', jsonPath: '.status.versions' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Expires', type: 'string', jsonPath: '.status.effectiveExpiresAt' },
    { name: 'Granted', type: 'string', jsonPath: '.status.grantedVersions', priority: 1 },
    { name: 'Type', type: 'string', jsonPath: '.spec.type', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
