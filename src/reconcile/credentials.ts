/**
 * Reads the credentials Secrets Licenses and Applications name: from the cache in the
 * operator's namespace, live elsewhere. A Secret elsewhere that has not opted in (see
 * render/credentials.ts) comes back without its data: the refusal is decided by the pure code,
 * but the shell does not even carry what it may not use.
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { SecretReference } from '../api/index.js';
import { isNotFound } from '../kube/errors.js';
import { credentialsRefusal } from '../render/credentials.js';
import type { CredentialsSecret } from '../render/pullsecret.js';
import type { ObjectCache } from './caches.js';

export class CredentialsReader {
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly operatorNamespace: string,
    private readonly cache: ObjectCache<V1Secret>,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Each distinct reference once, by "namespace/name"; missing Secrets are absent from the map. */
  async gather(refs: (SecretReference | undefined)[]): Promise<Map<string, CredentialsSecret>> {
    const found = new Map<string, CredentialsSecret>();
    for (const ref of refs) {
      if (!ref) continue;
      const key = `${ref.namespace}/${ref.name}`;
      if (found.has(key)) continue;
      const secret = await this.read(ref);
      if (secret) found.set(key, secret);
    }
    return found;
  }

  async read(ref: SecretReference): Promise<CredentialsSecret | undefined> {
    const secret = ref.namespace === this.operatorNamespace ? this.cache.get(ref.name, ref.namespace) : await this.readLive(ref);
    if (!secret) return undefined;
    const credentials: CredentialsSecret = { type: secret.type, data: secret.data, labels: secret.metadata?.labels };
    return credentialsRefusal(ref, this.operatorNamespace, credentials) ? { ...credentials, data: undefined } : credentials;
  }

  private async readLive(ref: SecretReference): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
