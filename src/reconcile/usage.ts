/** Gathers each application's live usage by one customer from the caches and its Ledgers. */
import { ledgerName } from '../api/index.js';
import { measureUsage, type WorkloadObject } from '../licensing/usage.js';
import type { MeasuredUsage } from '../render/usage.js';
import { CUSTOMER_LABEL } from '../vocabulary/labels.js';
import type { Caches } from './caches.js';

/** The customer's namespaces as labelled in the cluster (what the webhook counts too), by name. */
export function labelledNamespaces(caches: Pick<Caches, 'namespaces'>, customer: string): string[] {
  return caches.namespaces
    .ofCustomer(customer)
    .filter((ns) => ns.metadata?.labels?.[CUSTOMER_LABEL] === customer)
    .map((ns) => ns.metadata!.name!)
    .sort();
}

/** Usage of every application the customer holds a license for. */
export function measureCustomerUsage(caches: Caches, customer: string, applications: string[], nodeCount: number): Map<string, MeasuredUsage> {
  const workloads = labelledNamespaces(caches, customer).flatMap((ns) => caches.workloads.flatMap((cache) => cache.inNamespace(ns))) as WorkloadObject[];
  const result = new Map<string, MeasuredUsage>();
  for (const name of new Set(applications)) {
    const app = caches.applications.get(name);
    if (!app) continue;
    const measured = measureUsage(workloads, app.spec.images, nodeCount);
    const ledger = caches.ledgers.get(ledgerName(customer, name))?.spec;
    result.set(name, {
      replicas: measured.replicas,
      namespaces: [...new Set([...measured.running.keys(), ...(ledger?.tokens ?? []).map((t) => t.namespace)])].sort(),
      seatHolders: (ledger?.seats ?? []).filter((s) => s.kind === 'User').map((s) => s.name),
    });
  }
  return result;
}
