/** The read side of the operator: informer caches of everything reconciles look at. */
import type { V1ConfigMap, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { Application, Customer, Ledger, License, VersionPolicy } from '../api/index.js';
import type { Workload } from '../enforcement/sweep.js';
import type { Informer, ObjectLike } from '../kube/informer.js';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../render/serviceaccount.js';
import { CUSTOMER_LABEL } from '../vocabulary/labels.js';

/** A read-only view of one informer's cache. */
export interface ObjectCache<T> {
  list(): T[];
  get(name: string, namespace?: string): T | undefined;
}

/** A cache that also finds one customer's objects by index, without scanning every object (10,000 customers: issue #13). */
export interface CustomerIndexedCache<T> extends ObjectCache<T> {
  /** Licenses and Ledgers with spec.customer = customer; other kinds: objects labelled with the customer. */
  ofCustomer(customer: string): T[];
}

/** A workload informer's cache, with kind and apiVersion filled in (lists don't carry them per item). */
export interface WorkloadCache extends ObjectCache<Workload> {
  /** The workloads of one namespace: the sweep's read, which should not copy the whole cluster's. */
  inNamespace(namespace: string): Workload[];
}

/** The default ServiceAccounts, and those the operator has added pull Secrets to (what it may have to take back). */
export interface ServiceAccountCache extends ObjectCache<V1ServiceAccount> {
  withAddedPullSecrets(): V1ServiceAccount[];
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
  statusConfigMaps: CustomerIndexedCache<V1ConfigMap>;
  /** Secrets in the operator's namespace, where credentials Secrets live by convention. */
  credentialSecrets: ObjectCache<V1Secret>;
  /** The `default` ServiceAccount of every namespace: the operator lists pull Secrets on those of customer namespaces. */
  serviceAccounts: ServiceAccountCache;
  /** Every Ledger (one per customer × application): trials, seats, tokens, signed sequence, usage. */
  ledgers: CustomerIndexedCache<Ledger>;
  /** Every kind of workload the enforcement sweep looks at, cluster-wide. */
  workloads: WorkloadCache[];
}

/** The informers behind {@link Caches}. */
export interface CacheInformers {
  applications: Informer<Application>;
  customers: Informer<Customer>;
  licenses: Informer<License>;
  namespaces: Informer<V1Namespace>;
  versionPolicies: Informer<VersionPolicy>;
  pullSecrets: Informer<V1Secret>;
  statusConfigMaps: Informer<V1ConfigMap & ObjectLike>;
  credentialSecrets: Informer<V1Secret>;
  serviceAccounts: Informer<V1ServiceAccount>;
  ledgers: Informer<Ledger>;
  workloads: WorkloadCache[];
}

const CUSTOMER_INDEX = 'customer';
const ADDED_PULL_SECRETS_INDEX = 'added-pull-secrets';

/**
 * Caches over the informers, with the indexes a customer reconcile reads through: its cost must
 * not grow with the number of customers (a resync reconciles every one of them). Call before the
 * informers start.
 */
export function indexedCaches(informers: CacheInformers): Caches {
  const byCustomer = <T extends ObjectLike>(i: Informer<T>, keyOf: (o: T) => string | undefined): CustomerIndexedCache<T> =>
    Object.assign(i.addIndex(CUSTOMER_INDEX, keyOf), { ofCustomer: (customer: string) => i.byIndex(CUSTOMER_INDEX, customer) });
  const customerLabel = (o: { metadata?: { labels?: Record<string, string> } }) => o.metadata?.labels?.[CUSTOMER_LABEL];
  const serviceAccounts = informers.serviceAccounts.addIndex(ADDED_PULL_SECRETS_INDEX, (sa) => (sa.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION] ? 'yes' : undefined));
  return {
    applications: informers.applications,
    customers: informers.customers,
    licenses: byCustomer(informers.licenses, (l) => l.spec?.customer),
    namespaces: byCustomer(informers.namespaces, customerLabel),
    versionPolicies: byCustomer(informers.versionPolicies, customerLabel),
    pullSecrets: byCustomer(informers.pullSecrets, customerLabel),
    statusConfigMaps: byCustomer(informers.statusConfigMaps, customerLabel),
    credentialSecrets: informers.credentialSecrets,
    serviceAccounts: Object.assign(serviceAccounts, { withAddedPullSecrets: () => serviceAccounts.byIndex(ADDED_PULL_SECRETS_INDEX, 'yes') }),
    ledgers: byCustomer(informers.ledgers, (l) => l.spec?.customer),
    workloads: informers.workloads,
  };
}
