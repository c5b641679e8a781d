/** Reconciles an Application's status: its latest version and whether its catalogue and credentials are sound. */
import { GROUP, VERSION, applicationSpec, type ApplicationStatus } from '../api/index.js';
import type { KubeWriter } from '../kube/writer.js';
import { latestVersion } from '../licensing/versions.js';
import { mergeConditions, type DesiredCondition } from '../render/conditions.js';
import { CREDENTIALS_NOT_ALLOWED, credentialsRefusal } from '../render/credentials.js';
import type { Caches } from './caches.js';
import type { CredentialsReader } from './credentials.js';
import { sameJson } from './equality.js';

export class ApplicationReconciler {
  constructor(private readonly deps: { caches: Caches; writer: KubeWriter; clock: () => Date; credentials: CredentialsReader; operatorNamespace: string }) {}

  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const app = this.deps.caches.applications.get(name);
    if (!app) return {};
    const parsed = applicationSpec.safeParse(app.spec);
    const ref = parsed.success ? parsed.data.registry?.credentialsSecret : undefined;
    const refused = ref && credentialsRefusal(ref, this.deps.operatorNamespace, await this.deps.credentials.read(ref));
    const ready: DesiredCondition = !parsed.success
      ? { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ') }
      : refused
        ? { type: 'Ready', status: 'False', reason: CREDENTIALS_NOT_ALLOWED, message: `spec.registry.credentialsSecret: ${refused}` }
        : { type: 'Ready', status: 'True', reason: 'Valid', message: `${parsed.data.versions.length} version(s) in the catalogue` };
    const latest = parsed.success ? latestVersion(parsed.data.versions.map((v) => v.version)) : undefined;
    const generation = app.metadata.generation;
    const status: ApplicationStatus = {
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      ...(latest ? { latestVersion: latest } : {}),
      conditions: mergeConditions(app.status?.conditions, [ready], this.deps.clock(), generation),
    };
    if (!sameJson(status, app.status)) {
      await this.deps.writer.applyClusterStatus({ group: GROUP, version: VERSION, plural: 'applications', kind: 'Application', name, status });
    }
    return {};
  }
}
