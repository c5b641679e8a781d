/**
 * Carries out the enforcement sweep: for each customer namespace, planSweep() decides, this
 * patches, deletes and records an Event for every action. With dryRun it only records what it
 * would do.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { VersionPolicy, ViolationAction } from '../api/index.js';
import { planSweep, type SweepAction, type Workload } from '../enforcement/sweep.js';
import type { KubeWriter } from '../kube/writer.js';
import type { WorkloadCache } from './caches.js';

/** Event reasons of the sweep. */
export const SweepEventReason: Record<SweepAction['type'], string> = {
  ScaleToZero: 'ScaledToZero',
  Suspend: 'Suspended',
  StopDaemonSet: 'Stopped',
  Delete: 'Deleted',
  Report: 'UnlicensedWorkload',
  Restore: 'Restored',
  DiscardRecord: 'UnreadableRecord',
};

export interface SweepDeps {
  writer: KubeWriter;
  log: Logger;
  workloads: WorkloadCache[];
  dryRun: boolean;
  clock: () => Date;
  /** Workload generations already reported on a dry run, so each state is reported once per process. */
  reported: Set<string>;
}

/** Sweeps every namespace of one customer; returns the actions taken (or, on a dry run, planned). */
export async function sweepCustomer(deps: SweepDeps, policies: VersionPolicy[], onViolation: ViolationAction): Promise<SweepAction[]> {
  const taken: SweepAction[] = [];
  for (const policy of policies) {
    const namespace = policy.metadata.namespace!;
    const workloads = deps.workloads.flatMap((cache) => cache.inNamespace(namespace));
    for (const action of planSweep(workloads, policy.spec, onViolation)) {
      // On a dry run an action is only an Event: once per workload state (per process), since
      // repeating it on every resync would be noise.
      const key = `${action.type}:${reportKey(action, workloads)}`;
      if (deps.dryRun && deps.reported.has(key)) continue;
      await carryOut(deps, action);
      if (deps.dryRun) deps.reported.add(key);
      taken.push(action);
    }
  }
  return taken;
}

function reportKey(action: SweepAction, workloads: Workload[]): string {
  const w = workloads.find((x) => x.kind === action.workload.kind && x.metadata?.name === action.workload.name) as { metadata?: { generation?: number } } | undefined;
  return `${action.workload.kind}/${action.workload.namespace}/${action.workload.name}@${w?.metadata?.generation ?? 0}`;
}

async function carryOut(deps: SweepDeps, action: SweepAction): Promise<void> {
  const { writer, log } = deps;
  const { workload } = action;
  const object = { apiVersion: workload.apiVersion, kind: workload.kind, metadata: { name: workload.name, namespace: workload.namespace } };
  const fields = { kind: workload.kind, namespace: workload.namespace, name: workload.name, action: action.type, image: action.image };
  if (deps.dryRun) {
    log.info(fields, 'enforcement dry run');
    await writer.event({ ...object, ...object.metadata }, 'Warning', `DryRun${SweepEventReason[action.type]}`, `dry run, would have: ${action.message}`, deps.clock());
    return;
  }
  if (action.type === 'Delete') await writer.delete(object);
  else if (action.patch) {
    const patchMetadata = (action.patch.metadata ?? {}) as Record<string, unknown>;
    await writer.mergePatch({ ...object, ...action.patch, metadata: { ...object.metadata, ...patchMetadata } } as KubernetesObject);
  }
  log.info(fields, 'enforcement action');
  await writer.event(
    { apiVersion: workload.apiVersion, kind: workload.kind, name: workload.name, namespace: workload.namespace },
    action.type === 'Restore' ? 'Normal' : 'Warning',
    SweepEventReason[action.type],
    action.message,
    deps.clock(),
  );
}
