/**
 * The rollback record: the highest signed-license sequence accepted per customer ×
 * application, kept in the Ledger's `spec.signedSequence` so that it survives License deletion
 * and operator restarts, and no tenant can edit it (the Ledger is protected).
 *
 * This module writes only that field (the limits controller owns the rest of the Ledger): it
 * creates a missing Ledger with customer and application set, else sends a JSON merge patch of
 * `spec.signedSequence` alone with the cached resourceVersion as a precondition, so that a
 * stale cache can never lower it (a conflict fails the reconcile, which retries with backoff).
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, GROUP, VERSION, ledgerName } from '../api/index.js';
import type { KubeWriter } from '../kube/writer.js';
import type { Caches } from './caches.js';

export class SignedSequenceRecorder {
  private readonly custom: CustomObjectsApi;
  /** Sequences written by Ledger name, for reconciles that run before the cache sees the write. */
  private readonly written = new Map<string, number>();

  constructor(
    kc: KubeConfig,
    private readonly deps: { caches: Pick<Caches, 'ledgers'>; writer: KubeWriter; log: Logger },
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** The highest sequence accepted so far for each of the customer's applications. */
  accepted(customer: string, applications: Iterable<string>): Map<string, number> {
    const result = new Map<string, number>();
    for (const application of new Set(applications)) {
      const sequence = this.known(ledgerName(customer, application));
      if (sequence !== undefined) result.set(application, sequence);
    }
    return result;
  }

  /** Raises the recorded sequences to the ones given (never lowers one). */
  async record(customer: string, sequences: ReadonlyMap<string, number>): Promise<void> {
    for (const [application, sequence] of sequences) {
      const name = ledgerName(customer, application);
      const known = this.known(name);
      if (known !== undefined && known >= sequence) continue;
      const cached = this.deps.caches.ledgers.get(name);
      if (cached) {
        await this.deps.writer.mergePatch({
          apiVersion: API_VERSION,
          kind: 'Ledger',
          metadata: { name, resourceVersion: cached.metadata.resourceVersion },
          spec: { signedSequence: sequence },
        } as KubernetesObject);
      } else {
        // AlreadyExists (someone else created it since the cache was filled) fails this
        // reconcile; the retry finds it in the cache and patches it.
        await this.custom.createClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: 'ledgers',
          body: { apiVersion: API_VERSION, kind: 'Ledger', metadata: { name }, spec: { customer, application, signedSequence: sequence } },
        });
      }
      this.written.set(name, sequence);
      this.deps.log.info({ customer, application, sequence }, 'signed-license sequence recorded');
    }
  }

  private known(name: string): number | undefined {
    const cached = this.deps.caches.ledgers.get(name)?.spec?.signedSequence;
    const written = this.written.get(name);
    if (cached === undefined) return written;
    return written === undefined ? cached : Math.max(cached, written);
  }
}
