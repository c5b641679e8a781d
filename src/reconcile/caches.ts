/** The read side of the operator: informer caches of everything reconciles look at. */
import type { V1ConfigMap, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { Application, Customer, Ledger, License, VersionPolicy } from '../api/index.js';
import type { Workload } from '../enforcement/sweep.js';

/** A read-only view of one informer's cache. */
export interface ObjectCache<T> {
  list(): T[];
  get(name: string, namespace?: string): T | undefined;
}

/** A cache that also finds one customer's objects by index, without scanning every object (10,000 customers: issue #13). */
export interface CustomerIndexedCache<T> extends ObjectCache<T> {
  /** Licenses with spec.customer = customer; other kinds: objects labelled with the customer. */
  ofCustomer(customer: string): T[];
}

/** A workload informer's cache, with kind and apiVersion filled in (lists don't carry them per item). */
export interface WorkloadCache extends ObjectCache<Workload> {
  /** The workloads of one namespace: the sweep's read, which should not copy the whole cluster's. */
  inNamespace(namespace: string): Workload[];
}

export interface Caches {
  applications: ObjectCache<Application>;
  customers: ObjectCache<Customer>;
  licenses: CustomerIndexedCache<License>;
  /** Every namespace (the operator must know which exist before creating them). */
  namespaces: CustomerIndexedCache<V1Namespace>;
  /** VersionPolicies the operator owns (by label). */
  versionPolicies: CustomerIndexedCache<VersionPolicy>;
  /** Pull Secrets the operator owns (by label). */
  pullSecrets: CustomerIndexedCache<V1Secret>;
  /** The status ConfigMaps the operator owns (by label). */
  statusConfigMaps: ObjectCache<V1ConfigMap>;
  /** Secrets in the operator's namespace, where credentials Secrets live by convention. */
  credentialSecrets: ObjectCache<V1Secret>;
  /** The `default` ServiceAccount of every namespace: the operator lists pull Secrets on those of customer namespaces. */
  serviceAccounts: ObjectCache<V1ServiceAccount>;
  /** Every Ledger (one per customer × application): trials, seats, tokens, signed sequence, usage. */
  ledgers: ObjectCache<Ledger>;
  /** Every kind of workload the enforcement sweep looks at, cluster-wide. */
  workloads: WorkloadCache[];
}
