/** VersionPolicy: the compiled answer to "what may run here" (namespaced, operator-written). */
import { z } from 'zod';
import { ADMISSION_MODES } from './customer.js';
import type { Resource } from './common.js';
import type { ResourceDefinition } from './definition.js';

/** The one VersionPolicy of each customer namespace has this name. */
export const VERSION_POLICY_NAME = 'licensegate';

export const repositoryGrant = z.object({
  allowedTags: z.array(z.string().max(128)).max(10_000).default([]).describe('Tags that may run.'),
  allowedDigests: z.array(z.string().max(71)).max(10_000).default([]).describe('Digests that may run.'),
  licenses: z.array(z.string().max(253)).max(1000).default([]).describe('Licenses that grant this repository here.'),
});
export type RepositoryGrant = z.infer<typeof repositoryGrant>;

export const versionPolicySpec = z.object({
  customer: z.string().max(253).describe('The Customer owning this namespace.'),
  admission: z.enum(ADMISSION_MODES).default('Deny').describe('The customer\'s admission mode.'),
  repositories: z
    .record(z.string().max(255), repositoryGrant)
    .default({})
    .describe('Every gated repository, normalised (docker.io/library/nginx), to what is granted here. An empty entry means gated, nothing granted.'),
});
export type VersionPolicySpec = z.infer<typeof versionPolicySpec>;

export type VersionPolicy = Resource<'VersionPolicy', VersionPolicySpec>;

export const versionPolicyDefinition: ResourceDefinition = {
  kind: 'VersionPolicy',
  plural: 'versionpolicies',
  singular: 'versionpolicy',
  shortNames: ['vp'],
  scope: 'Namespaced',
  description: 'What may run in one customer namespace, compiled by the operator from licenses. Written only by the operator.',
  spec: versionPolicySpec,
  printerColumns: [
    { name: 'Customer', type: 'string', jsonPath: '.spec.customer' },
    { name: 'Admission', type: 'string', jsonPath: '.spec.admission' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
