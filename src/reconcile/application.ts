/** Reconciles an Application's status: its latest version and whether its catalogue is sound. */
import { GROUP, VERSION, applicationSpec, type ApplicationStatus } from '../api/index.js';
import type { KubeWriter } from '../kube/writer.js';
import { latestVersion } from '../licensing/versions.js';
import { mergeConditions, type DesiredCondition } from '../render/conditions.js';
import type { Caches } from './caches.js';
import { sameJson } from './equality.js';

export class ApplicationReconciler {
  constructor(private readonly deps: { caches: Caches; writer: KubeWriter; clock: () => Date }) {}

  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const app = this.deps.caches.applications.get(name);
    if (!app) return {};
    const parsed = applicationSpec.safeParse(app.spec);
    const ready: DesiredCondition = parsed.success
      ? { type: 'Ready', status: 'True', reason: 'Valid', message: `${app.spec.versions.length} version(s) in the catalogue` }
      : { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ') };
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
