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
import type { Caches, ObjectCache } from './caches.js';

export interface ServiceAccountSyncDeps {
  caches: Pick<Caches, 'namespaces'> & { serviceAccounts: ObjectCache<V1ServiceAccount> };
  writer: KubeWriter;
  log: Logger;
}

/**
 * For each of the customer's namespaces: the default ServiceAccount lists the pull Secrets the
 * plan writes there (none when `enabled` is false). For every other namespace that is not
 * another customer's, the operator's entries go. A namespace whose default ServiceAccount does
 * not exist yet is skipped: the ServiceAccount controller creates it, and its watch event
 * brings the customer back here.
 *
 * The write is a merge patch carrying the resourceVersion read: a concurrent edit of the list
 * (which a merge patch replaces whole) fails with a conflict and the reconcile is retried.
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
  for (const serviceAccount of deps.caches.serviceAccounts.list()) {
    const namespace = serviceAccount.metadata?.namespace ?? '';
    if (serviceAccount.metadata?.name !== DEFAULT_SERVICE_ACCOUNT) continue;
    let secrets = wanted.get(namespace);
    if (secrets === undefined) {
      // Not this customer's namespace: only take back what the operator added, and only where no
      // other customer holds the namespace now (its own reconcile owns that list).
      if (!serviceAccount.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]) continue;
      const owner = deps.caches.namespaces.get(namespace)?.metadata?.labels?.[CUSTOMER_LABEL];
      if (owner !== undefined && owner !== customer) continue;
      secrets = [];
    }
    const change = planServiceAccountPullSecrets(serviceAccount, secrets);
    if (!change.change) continue;
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
    deps.log.info({ customer, namespace, imagePullSecrets: change.imagePullSecrets.map((r) => r.name) }, 'default ServiceAccount pull secrets updated');
  }
}
