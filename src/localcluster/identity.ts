/** Running the operator on a local cluster as a ServiceAccount, as it runs in a real one. */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { applyObjects } from '../kube/apply.js';

/**
 * A kubeconfig for ServiceAccount `namespace/name`, bound to `clusterRole`, with a token from
 * the TokenRequest API. The operator must not run as the admin user: the admission policies
 * exempt the operator's identity, and the person trying things out is the admin.
 */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  options: { namespace: string; name: string; clusterRole: string; expirationSeconds?: number },
): Promise<KubeConfig> {
  const { namespace, name, clusterRole } = options;
  await applyObjects(admin, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${namespace}-${name}-${clusterRole}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ]);
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { expirationSeconds: options.expirationSeconds ?? 24 * 3600, audiences: [] } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error('cannot make a ServiceAccount kubeconfig: no current cluster or no token issued');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: token.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return kc;
}
