/**
 * Ledger: the durable facts about one customer × application that must outlive a License, a
 * Customer or an operator restart, and that no tenant may edit (cluster-scoped,
 * operator-written, protected by an admission policy). License and Customer statuses are
 * caches; the Ledger is the record.
 *
 * The record lives in `spec` (no status subresource) so that every change is one write with a
 * resourceVersion precondition: claims of tokens and seats are compare-and-swap updates of
 * this object, which is what makes them atomic across webhook replicas.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { dnsSubdomain, timestamp, type Resource } from './common.js';
import type { ResourceDefinition } from './definition.js';

const name = z.string().max(253);

export const ledgerTrial = z.object({
  license: name.describe('The Trial License that used the trial.'),
  licenseUid: z.string().max(64).optional().describe('UID of that License: a re-created License of the same name is another License.'),
  startedAt: timestamp.describe('First activation of the trial.'),
  clusterId: z.string().max(64).optional().describe('Cluster the trial was activated on, for signed trials.'),
});

export const ledgerSeat = z.object({
  kind: z.enum(['User', 'Group']).describe('User (ServiceAccounts included, as system:serviceaccount:NS:NAME) or Group.'),
  name: z.string().max(256),
  since: timestamp.describe('When the seat was first taken.'),
});

export const ledgerToken = z.object({
  namespace: z.string().max(63),
  since: timestamp.describe('When the namespace took the token.'),
});

export const ledgerMonth = z.object({
  month: z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'must be a UTC month such as 2027-01').max(7).describe('UTC month, YYYY-MM.'),
  peakReplicas: z.number().int().min(0).default(0).describe('Most desired pods of the application at once.'),
  peakNamespaces: z.number().int().min(0).default(0).describe('Most namespaces holding a token at once.'),
  seatHolders: z.array(z.string().max(256)).max(10_000).default([]).describe('Distinct users who held a seat in the month.'),
  replicaHours: z.number().min(0).default(0).describe('Desired pods integrated over time, in pod-hours.'),
});
export type LedgerMonth = z.infer<typeof ledgerMonth>;

export const ledgerSpec = z.object({
  customer: dnsSubdomain.describe('The Customer this record is about.'),
  application: dnsSubdomain.describe('The Application this record is about.'),
  trial: ledgerTrial.optional().describe('The one trial of this application this customer ever had.'),
  signedSequence: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Highest signed-license sequence accepted; a lower one is a rollback and is refused.'),
  seats: z.array(ledgerSeat).max(10_000).optional().describe('Seats taken by first use, kept until released.'),
  tokens: z.array(ledgerToken).max(10_000).optional().describe('Namespaces holding a floating token.'),
  beyondAllowanceSince: timestamp
    .optional()
    .describe('Since when workloads of the application run beyond a limit (with its overage allowance); the sweep stops the newest of them when the grace period from here ends.'),
  lastSample: z
    .object({ at: timestamp, replicas: z.number().int().min(0) })
    .optional()
    .describe('The last usage sample, from which replica-hours accrue.'),
  usage: z.array(ledgerMonth).max(120).optional().describe('Monthly usage records for billing, oldest first (ten years at most).'),
});
export type LedgerSpec = z.infer<typeof ledgerSpec>;

export type Ledger = Resource<'Ledger', LedgerSpec>;

/**
 * The Ledger's name for a customer × application: readable when it fits in a DNS-1123
 * subdomain, else a stable hash (the spec names both in full either way).
 */
export function ledgerName(customer: string, application: string): string {
  const readable = `${customer}.${application}`;
  if (readable.length <= 253) return readable;
  return `ledger-${createHash('sha256').update(`${customer}\n${application}`).digest('hex').slice(0, 40)}`;
}

export const ledgerDefinition: ResourceDefinition = {
  kind: 'Ledger',
  plural: 'ledgers',
  singular: 'ledger',
  shortNames: ['ldg'],
  scope: 'Cluster',
  description:
    'The durable record of one customer × application: trial, seat and token holders, signed-license sequence and monthly usage. Written only by the operator; it outlives Licenses and Customers.',
  spec: ledgerSpec,
  printerColumns: [
    { name: 'Customer', type: 'string', jsonPath: '.spec.customer' },
    { name: 'Application', type: 'string', jsonPath: '.spec.application' },
    { name: 'Trial License', type: 'string', jsonPath: '.spec.trial.license' },
    { name: 'Trial Started', type: 'string', jsonPath: '.spec.trial.startedAt' },
    { name: 'Tokens', type: 'string', jsonPath: '.spec.tokens[*].namespace', priority: 1 },
    { name: 'Seats', type: 'string', jsonPath: '.spec.seats[*].name', priority: 1 },
    { name: 'Sequence', type: 'integer', jsonPath: '.spec.signedSequence', priority: 1 },
    { name: 'Beyond Limit Since', type: 'string', jsonPath: '.spec.beyondAllowanceSince', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
