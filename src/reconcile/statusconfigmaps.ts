/** Keeps each customer namespace's banner ConfigMap (`licensegate-status`) in line: apply when it differs, prune the ones no longer wanted. */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeWriter } from '../kube/writer.js';
import { CUSTOMER_LABEL } from '../vocabulary/labels.js';
import type { Caches } from './caches.js';
import { containsEntries, sameJson } from './equality.js';

export async function syncStatusConfigMaps(caches: Caches, writer: KubeWriter, customer: string, desired: V1ConfigMap[]): Promise<void> {
  const wanted = new Set(desired.map((c) => `${c.metadata!.namespace}/${c.metadata!.name}`));
  for (const configMap of desired) {
    const { name, namespace } = configMap.metadata as { name: string; namespace: string };
    const live = caches.statusConfigMaps.get(name, namespace);
    if (live && sameJson(live.data, configMap.data) && containsEntries(live.metadata?.labels, configMap.metadata?.labels)) continue;
    if (caches.namespaces.get(namespace)?.metadata?.deletionTimestamp) continue;
    await writer.apply({ ...configMap, apiVersion: 'v1', kind: 'ConfigMap' });
  }
  for (const live of caches.statusConfigMaps.ofCustomer(customer)) {
    const key = `${live.metadata?.namespace}/${live.metadata?.name}`;
    if (live.metadata?.labels?.[CUSTOMER_LABEL] !== customer || wanted.has(key)) continue;
    await writer.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: live.metadata!.name, namespace: live.metadata!.namespace } });
  }
}
