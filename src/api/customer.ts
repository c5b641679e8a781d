/** Customer: who receives licenses (cluster-scoped). */
import { z } from 'zod';
import { conditions, dnsLabel, withRules, type Resource } from './common.js';
import type { ResourceDefinition } from './definition.js';

export const ADMISSION_MODES = ['Deny', 'Warn', 'Audit'] as const;
export type AdmissionMode = (typeof ADMISSION_MODES)[number];
export const VIOLATION_ACTIONS = ['ScaleToZero', 'Delete', 'None'] as const;
export type ViolationAction = (typeof VIOLATION_ACTIONS)[number];

/** Namespaces a Customer may never claim: the cluster's own. */
export const RESERVED_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export const customerSpec = z.object({
  displayName: z.string().max(256).optional().describe('Human-readable customer name, e.g. "Acme Corp".'),
  contact: z.string().max(256).optional().describe('Who to notify about this customer\'s licenses, e.g. an email address.'),
  namespaces: withRules(
    z
      .array(dnsLabel)
      .min(1)
      .max(64)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional(),
    {
      rule: `self.all(ns, !(ns in ${JSON.stringify(RESERVED_NAMESPACES).replaceAll('"', "'")}) && !ns.startsWith('kube-'))`,
      message: 'must not name default or a kube-* namespace: those belong to the cluster',
    },
  ).describe(
    'Namespaces the customer deploys into (default: [metadata.name]). Created when missing and labelled licensegate.dev/customer=<name>.',
  ),
  onPremises: z
    .boolean()
    .optional()
    .describe(
      'The customer runs the application in a cluster of its own, with vendor-signed licenses (licensegate sign, or online activation). This cluster then only keeps its Licenses (their phases, activation keys): no namespace is created or labelled for it, no VersionPolicy or pull secret is written.',
    ),
  enforcement: z
    .object({
      admission: z
        .enum(ADMISSION_MODES)
        .default('Deny')
        .describe('What the API server does with an unlicensed workload: Deny refuses it, Warn admits it with a warning, Audit only records it in the audit log.'),
      onViolation: z
        .enum(VIOLATION_ACTIONS)
        .default('ScaleToZero')
        .describe('What happens to workloads already running once their license lapses: ScaleToZero (replicas remembered and restored on renewal), Delete, or None (report only).'),
    })
    .default({ admission: 'Deny', onViolation: 'ScaleToZero' })
    .describe('How licenses are enforced in this customer\'s namespaces.'),
  // Optional rather than defaulted, so that Customers written in code need not name it; absent means true.
  addPullSecretsToDefaultServiceAccount: z
    .boolean()
    .optional()
    .describe(
      'Default true: add the pull Secrets the operator writes to the imagePullSecrets of the default ServiceAccount in each of this customer\'s namespaces (and remove them when they go), so pods that name no pull Secret still pull granted versions. Entries others added are left alone. false: workloads name the Secrets themselves, and entries the operator added are removed.',
    ),
});
export type CustomerSpec = z.infer<typeof customerSpec>;

export const customerStatus = z.object({
  observedGeneration: z.number().int().min(0).optional(),
  namespaces: z.array(z.string().max(63)).max(64).optional().describe('Namespaces the operator manages for this customer.'),
  activeLicenses: z.number().int().min(0).optional().describe('Number of this customer\'s licenses in phase Active.'),
  trials: z
    .array(
      z.object({
        application: z.string().max(253),
        license: z.string().max(253),
        startedAt: z.string().max(64),
      }),
    )
    .max(1000)
    .optional()
    .describe('Trials this customer has started, one per application, ever: a later Trial License of the same application is Invalid.'),
  conditions: conditions.optional(),
});
export type CustomerStatus = z.infer<typeof customerStatus>;

export type Customer = Resource<'Customer', CustomerSpec, CustomerStatus>;

export const customerDefinition: ResourceDefinition = {
  kind: 'Customer',
  plural: 'customers',
  singular: 'customer',
  shortNames: ['cust'],
  scope: 'Cluster',
  description: 'A customer of the vendor: the namespaces it deploys into and how its licenses are enforced there.',
  spec: customerSpec,
  status: customerStatus,
  objectRules: [
    {
      rule: '!has(self.spec.onPremises) || !self.spec.onPremises || !has(self.spec.namespaces)',
      message: 'an on-premises customer has no namespaces in this cluster: remove spec.namespaces, or spec.onPremises',
      fieldPath: '.spec.namespaces',
    },
  ],
  printerColumns: [
    { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
    { name: 'Namespaces', type: 'string', jsonPath: '.status.namespaces' },
    { name: 'Active Licenses', type: 'integer', jsonPath: '.status.activeLicenses' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
