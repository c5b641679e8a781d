/**
 * Writes the pull Secrets of a customer's namespaces onto their `default` ServiceAccounts
 * (see src/render/serviceaccount.ts for what is added and what is left alone), and takes them
 * back from namespaces the customer no longer holds.
 */
import type { KubernetesObject, V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeWriter } from '../kube/writer.js';
import type { OwnedObject } from '../render/plan.js';
import { ADDED_PULL_SECRETS_ANNOTATION, DEFAULT_SERVICE_ACCOUNT, planServiceAccountPullSecrets } from '../render/serviceaccount.js';
import { CUSTOMER_LABEL } from '../vocabulary/labels.js';
import type { Caches } from './caches.js';

export interface ServiceAccountSyncDeps {
  caches: Pick<Caches, 'namespaces' | 'serviceAccounts'>;
  writer: KubeWriter;
  log: Logger;
}

/**
 * For each of the customer's namespaces: the default ServiceAccount lists the pull Secrets the
 * plan writes there (none when `enabled` is false). A namespace still labelled with the customer
 * but no longer among its namespaces (being released) loses the operator's entries. A namespace
 * whose default ServiceAccount does not exist yet is skipped: the ServiceAccount controller
 * creates it, and its watch event brings the customer back here.
 *
 * Namespaces no customer holds any more are {@link takeBackReleasedPullSecrets}'s: reading every
 * ServiceAccount here would make each customer's reconcile as slow as the cluster is large.
 */
export async function syncDefaultServiceAccounts(
  deps: ServiceAccountSyncDeps,
  customer: string,
  plan: { namespaces: string[]; objects: OwnedObject[] },
  enabled: boolean,
): Promise<void> {
  const wanted = new Map<string, string[]>(plan.namespaces.map((ns) => [ns, []]));
  if (enabled) {
    for (const object of plan.objects) {
      if (object.kind !== 'Secret') continue;
      wanted.get(object.metadata!.namespace!)?.push(object.metadata!.name!);
    }
  }
  const labelled = deps.caches.namespaces.ofCustomer(customer).map((ns) => ns.metadata!.name!);
  for (const namespace of new Set([...wanted.keys(), ...labelled])) {
    const serviceAccount = deps.caches.serviceAccounts.get(DEFAULT_SERVICE_ACCOUNT, namespace);
    if (!serviceAccount) continue;
    let secrets = wanted.get(namespace);
    if (secrets === undefined) {
      // Labelled with this customer but not wanted: only take back what the operator added.
      if (!serviceAccount.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]) continue;
      if (ownerOf(deps, namespace) !== customer) continue;
      secrets = [];
    }
    await writeChange(deps, serviceAccount, secrets, { customer });
  }
}

/**
 * Takes the operator's entries back from the default ServiceAccounts of namespaces no customer
 * holds (released by their customer, or unlabelled by hand). Cluster-wide, but only over the
 * ServiceAccounts the operator added entries to; the operator runs it once per resync and when a
 * namespace loses its customer label.
 */
export async function takeBackReleasedPullSecrets(deps: ServiceAccountSyncDeps): Promise<void> {
  for (const serviceAccount of deps.caches.serviceAccounts.withAddedPullSecrets()) {
    const namespace = serviceAccount.metadata?.namespace ?? '';
    if (serviceAccount.metadata?.name !== DEFAULT_SERVICE_ACCOUNT || ownerOf(deps, namespace) !== undefined) continue;
    await writeChange(deps, serviceAccount, [], {});
  }
}

const ownerOf = (deps: ServiceAccountSyncDeps, namespace: string) => deps.caches.namespaces.get(namespace)?.metadata?.labels?.[CUSTOMER_LABEL];

/**
 * The write is a merge patch carrying the resourceVersion read: a concurrent edit of the list
 * (which a merge patch replaces whole) fails with a conflict and the reconcile is retried.
 */
async function writeChange(deps: ServiceAccountSyncDeps, serviceAccount: V1ServiceAccount, secrets: string[], context: { customer?: string }): Promise<void> {
  const change = planServiceAccountPullSecrets(serviceAccount, secrets);
  if (!change.change) return;
  const namespace = serviceAccount.metadata?.namespace ?? '';
  await deps.writer.mergePatch({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: DEFAULT_SERVICE_ACCOUNT,
      namespace,
      resourceVersion: serviceAccount.metadata?.resourceVersion,
      annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: change.added },
    },
    imagePullSecrets: change.imagePullSecrets,
  } as unknown as KubernetesObject);
  deps.log.info({ ...context, namespace, imagePullSecrets: change.imagePullSecrets.map((r) => r.name) }, 'default ServiceAccount pull secrets updated');
}
