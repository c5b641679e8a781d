/**
 * Where the vendor's activation state lives: in the vendor's cluster, in the activation
 * server's namespace. Secrets, because an activation key is a credential:
 *
 * - one Secret per License, `licensegate-activation-<license>`, holding the key, the cluster it
 *   activated and when the key was last regenerated; labelled with a hash of the key, so that a
 *   request finds its Secret with one label-selected list and the key never appears in a label.
 *   Updates carry the resourceVersion read, so two clusters racing for one key cannot both win.
 * - one ConfigMap per (application, cluster id) that had a Trial, created, never updated: the
 *   API server's create is the atomic "first trial wins".
 */
import { createHash } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { apiError } from '../kube/errors.js';
import type { ActivationRecord } from '../licensing/activation.js';

export const KEY_HASH_LABEL = 'licensegate.dev/activation-key-hash';
export const TRIAL_LABEL = 'licensegate.dev/activation-trial';
const MANAGED = { 'app.kubernetes.io/managed-by': 'licensegate-activation' };

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
export const keyHash = (key: string) => sha(key).slice(0, 40);

/** The Secret's name for a License: readable when it fits, else a stable hash. */
export function activationSecretName(license: string): string {
  const readable = `licensegate-activation-${license}`;
  return readable.length <= 253 ? readable : `licensegate-activation-${sha(license).slice(0, 40)}`;
}

export interface StoredRecord {
  record: ActivationRecord;
  resourceVersion: string;
}

export class ActivationStore {
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig, readonly namespace: string) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get(license: string): Promise<StoredRecord | undefined> {
    try {
      return fromSecret(await this.core.readNamespacedSecret({ name: activationSecretName(license), namespace: this.namespace }));
    } catch (error) {
      if (apiError(error).code === 404) return undefined;
      throw error;
    }
  }

  async findByKey(key: string): Promise<StoredRecord | undefined> {
    const list = await this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: `${KEY_HASH_LABEL}=${keyHash(key)}` });
    return list.items.map(fromSecret).find((s) => s?.record.key === key);
  }

  /** Creates the record; fails with 409 if the License has one already. */
  async create(record: ActivationRecord): Promise<void> {
    await this.core.createNamespacedSecret({ namespace: this.namespace, body: toSecret(record, this.namespace) });
  }

  /** Replaces the record if it is still at `resourceVersion`; a 409 Conflict otherwise. */
  async update(record: ActivationRecord, resourceVersion: string): Promise<void> {
    const body = toSecret(record, this.namespace);
    body.metadata!.resourceVersion = resourceVersion;
    await this.core.replaceNamespacedSecret({ name: body.metadata!.name!, namespace: this.namespace, body });
  }

  /** Records that `clusterId` had a trial of `application` through `license`; returns the license already recorded, if another one was. */
  async recordTrial(application: string, clusterId: string, license: string): Promise<string | undefined> {
    const name = `licensegate-trial-${sha(`${application}\n${clusterId}`).slice(0, 40)}`;
    try {
      await this.core.createNamespacedConfigMap({
        namespace: this.namespace,
        body: { metadata: { name, labels: { ...MANAGED, [TRIAL_LABEL]: 'true' } }, data: { application, clusterId, license } },
      });
      return undefined;
    } catch (error) {
      if (apiError(error).code !== 409) throw error;
      const existing = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
      return existing.data?.license;
    }
  }
}

function toSecret(record: ActivationRecord, namespace: string): V1Secret {
  const data: Record<string, string> = { license: record.license, key: record.key, createdAt: record.createdAt };
  if (record.activatedCluster) data.activatedCluster = record.activatedCluster;
  if (record.activatedAt) data.activatedAt = record.activatedAt;
  if (record.regeneratedAt) data.regeneratedAt = record.regeneratedAt;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: activationSecretName(record.license), namespace, labels: { ...MANAGED, [KEY_HASH_LABEL]: keyHash(record.key) } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

function fromSecret(secret: V1Secret): StoredRecord | undefined {
  const d = (k: string) => (secret.data?.[k] === undefined ? undefined : Buffer.from(secret.data[k], 'base64').toString('utf8'));
  const license = d('license');
  const key = d('key');
  if (!license || !key) return undefined;
  const optional = (k: 'activatedCluster' | 'activatedAt' | 'regeneratedAt') => (d(k) ? { [k]: d(k) } : {});
  return {
    record: { license, key, createdAt: d('createdAt') ?? '', ...optional('activatedCluster'), ...optional('activatedAt'), ...optional('regeneratedAt') },
    resourceVersion: secret.metadata?.resourceVersion ?? '',
  };
}
