/**
 * The activation service: activation keys for the vendor's Licenses, and activation requests
 * answered with the License signed and bound to the requesting cluster.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type License } from '../api/index.js';
import { apiError } from '../kube/errors.js';
import {
  ActivationReason,
  decideActivation,
  decideRegeneration,
  decideTrial,
  regenerated,
  rfc3339,
  type ActivationRecord,
} from '../licensing/activation.js';
import { signLicense, signableSpec } from '../licensing/signature.js';
import { ActivationStore } from './store.js';

export type Refusal = { ok: false; status: number; reason: ActivationReason; message: string };
export type Activation = { ok: true; license: License } | Refusal;

const refuse = (status: number, reason: ActivationReason, message: string): Refusal => ({ ok: false, status, reason, message });

/** A new activation key: 160 random bits, prefixed so that people recognise it. */
export const newActivationKey = () => `lgk_${randomBytes(20).toString('base64url')}`;

export class ActivationService {
  readonly store: ActivationStore;
  private readonly custom: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly options: { namespace: string; signingKey?: KeyObject; clock: () => Date },
  ) {
    this.store = new ActivationStore(kc, options.namespace);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** The License's activation key, made on first use. Throws if the License does not exist. */
  async keyFor(license: string): Promise<string> {
    await this.readLicense(license, true);
    const existing = await this.store.get(license);
    if (existing) return existing.record.key;
    const record: ActivationRecord = { license, key: newActivationKey(), createdAt: rfc3339(this.options.clock()) };
    try {
      await this.store.create(record);
      return record.key;
    } catch (error) {
      // Made by someone else a moment ago: theirs is the key.
      if (apiError(error).code === 409) return (await this.store.get(license))!.record.key;
      throw error;
    }
  }

  /** Replaces the key (unbinding its cluster), at most once per 30 days. */
  async regenerate(license: string): Promise<{ ok: true; key: string } | Refusal> {
    await this.keyFor(license);
    const stored = (await this.store.get(license))!;
    const now = this.options.clock();
    const decision = decideRegeneration(stored.record, now);
    if (!decision.ok) return refuse(409, decision.reason, decision.message);
    const next = regenerated(stored.record, newActivationKey(), now);
    await this.store.update(next, stored.resourceVersion);
    return { ok: true, key: next.key };
  }

  /** Answers an activation request: the License signed and bound to `clusterId`, or why not. */
  async activate(key: string, clusterId: string): Promise<Activation> {
    if (!this.options.signingKey) throw new Error('the activation service has no signing key');
    const stored = await this.store.findByKey(key);
    if (!stored) return refuse(404, ActivationReason.UnknownActivationKey, 'unknown activation key (check it, or ask the vendor: it may have been regenerated)');
    const decision = decideActivation(stored.record, clusterId);
    if (!decision.ok) return refuse(409, decision.reason, decision.message);
    const license = await this.readLicense(stored.record.license, false);
    if (!license) return refuse(404, ActivationReason.LicenseNotFound, `the license for this key (${stored.record.license}) no longer exists at the vendor`);
    if (license.spec.type === 'Trial') {
      const earlier = await this.store.recordTrial(license.spec.application, clusterId, license.metadata.name);
      const trial = decideTrial(earlier, license.metadata.name, license.spec.application, clusterId);
      if (!trial.ok) return refuse(409, trial.reason, trial.message);
    }
    const now = this.options.clock();
    if (decision.bind) {
      try {
        await this.store.update({ ...stored.record, activatedCluster: clusterId, activatedAt: rfc3339(now) }, stored.resourceVersion);
      } catch (error) {
        // Another request changed the record first (another cluster, or a regeneration): judge again.
        if (apiError(error).code === 409) return this.activate(key, clusterId);
        throw error;
      }
    }
    const spec = signableSpec(license.spec);
    if (!spec.ok) return refuse(500, ActivationReason.LicenseNotFound, `the vendor's License ${license.metadata.name} is not valid: ${spec.message}`);
    const manifest: License = { apiVersion: API_VERSION, kind: 'License', metadata: { name: license.metadata.name }, spec: spec.spec };
    // Each activation is newer than the last: the sequence is the issue time in seconds.
    const signature = await signLicense(manifest, { privateKey: this.options.signingKey, sequence: Math.floor(now.getTime() / 1000), issuedAt: now, cluster: clusterId });
    return { ok: true, license: { ...manifest, spec: { ...manifest.spec, signature } } };
  }

  private async readLicense(name: string, required: boolean): Promise<License | undefined> {
    try {
      return (await this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name })) as License;
    } catch (error) {
      if (apiError(error).code === 404 && !required) return undefined;
      if (apiError(error).code === 404) throw new Error(`License ${name} does not exist in this cluster`);
      throw error;
    }
  }
}
