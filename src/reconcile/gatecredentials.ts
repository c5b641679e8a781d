/**
 * Keeps one gate credentials Secret per License of a gated Application in the operator's
 * namespace: creates a missing one with a fresh random token (deleting the Secret is how an
 * operator-side rotation is done), and deletes those whose License is gone or no longer gated.
 * It creates rather than applies, so a cache that lags behind a creation can never overwrite a
 * token that pull secrets already carry.
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from '../kube/errors.js';
import { gatedLicenses, renderGateCredentials } from '../render/gatecredentials.js';
import { newGateToken } from '../gate/token.js';
import { gateCredentialsLicense, gateCredentialsSecretName } from '../vocabulary/gate.js';
import type { Caches } from './caches.js';

export interface GateCredentialsDeps {
  kc: KubeConfig;
  caches: Pick<Caches, 'licenses' | 'applications' | 'credentialSecrets'>;
  namespace: string;
  log: Logger;
  onWrite?: (verb: 'create' | 'delete') => void;
  token?: () => string;
}

export class GateCredentialsReconciler {
  private readonly core: CoreV1Api;

  constructor(private readonly deps: GateCredentialsDeps) {
    this.core = deps.kc.makeApiClient(CoreV1Api);
  }

  async reconcile(): Promise<Record<string, never>> {
    const { caches, namespace, log } = this.deps;
    const licenses = caches.licenses.list();
    const gated = gatedLicenses(licenses, caches.applications.list());
    for (const license of licenses) {
      if (!gated.has(license.metadata.name) || license.metadata.deletionTimestamp) continue;
      if (caches.credentialSecrets.get(gateCredentialsSecretName(license.metadata.name), namespace)) continue;
      const secret = renderGateCredentials(license, namespace, (this.deps.token ?? newGateToken)());
      try {
        await this.core.createNamespacedSecret({ namespace, body: secret });
        this.deps.onWrite?.('create');
        log.info({ license: license.metadata.name }, 'gate credentials created');
      } catch (error) {
        if (!isConflict(error)) throw error; // already there: the cache has not seen it yet
      }
    }
    for (const secret of caches.credentialSecrets.list() as V1Secret[]) {
      const license = gateCredentialsLicense(secret);
      if (!license || gated.has(license) || secret.metadata?.namespace !== namespace) continue;
      try {
        await this.core.deleteNamespacedSecret({ name: secret.metadata!.name!, namespace });
        this.deps.onWrite?.('delete');
        log.info({ license }, 'gate credentials deleted: license gone or no longer gated');
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return {};
  }
}
