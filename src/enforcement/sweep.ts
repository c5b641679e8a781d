/**
 * What to do about workloads already running out of license. Pure: given the workloads of a
 * customer namespace, what is granted there (including licenses still in their grace
 * period) and the customer's onViolation, it returns the actions; the reconciler carries them
 * out. Nothing here ever touches a PersistentVolumeClaim.
 */
import type { VersionPolicySpec, ViolationAction } from '../api/index.js';
import { deniedImages } from './decide.js';
import { imagesOf, REPLICATED_KINDS, replicasOf, SUSPENDABLE_KINDS } from './workload.js';

/** Replica count before ScaleToZero; restored exactly when the license is valid again. */
export const REPLICAS_ANNOTATION = 'licensegate.dev/replicas-before-enforcement';
/** Set on Jobs and CronJobs that the operator suspended. */
export const SUSPENDED_ANNOTATION = 'licensegate.dev/suspended-by-enforcement';
/** A DaemonSet's nodeSelector before enforcement (JSON); it is "scaled to zero" by a selector no node matches. */
export const NODE_SELECTOR_ANNOTATION = 'licensegate.dev/node-selector-before-enforcement';
/**
 * On a workload left running (onViolation: None): the unlicensed image it was reported for.
 * Tenants see it on the object, and a restarted operator does not report it again.
 */
export const UNLICENSED_ANNOTATION = 'licensegate.dev/unlicensed-image';
/** The label a stopped DaemonSet's pods require, which no node carries. */
export const STOPPED_NODE_LABEL = 'licensegate.dev/stopped-by-enforcement';

/** A workload as the sweep reads it (the API server's JSON). */
export interface Workload {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; controller?: boolean }[];
    deletionTimestamp?: string;
  };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type SweepActionType = 'ScaleToZero' | 'Suspend' | 'StopDaemonSet' | 'Delete' | 'Report' | 'Restore';

/** One thing to do to one workload, with the merge patch that does it (none for Delete). */
export interface SweepAction {
  type: SweepActionType;
  workload: { apiVersion: string; kind: string; namespace: string; name: string };
  /** The unlicensed image that triggered the action (empty for Restore). */
  image: string;
  /** JSON merge patch to apply, for the patching actions. */
  patch?: Record<string, unknown>;
  message: string;
}

/** Whether the workload is managed by a controller the sweep handles instead (a Deployment's ReplicaSets, any controller's Pods). */
function isControlled(w: Workload): boolean {
  return (w.metadata?.ownerReferences ?? []).some((o) => o.controller && o.kind !== 'CronJob');
}

/** Plans the sweep of one namespace. `granted` includes licenses still in their grace period. */
export function planSweep(workloads: Workload[], granted: VersionPolicySpec, onViolation: ViolationAction): SweepAction[] {
  const actions: SweepAction[] = [];
  for (const w of workloads) {
    if (!w.kind || !w.metadata?.name || !w.metadata.namespace || w.metadata.deletionTimestamp) continue;
    if (isControlled(w) && w.kind !== 'Job') continue;
    const ref = { apiVersion: w.apiVersion ?? 'v1', kind: w.kind, namespace: w.metadata.namespace, name: w.metadata.name };
    const denied = deniedImages(imagesOf(w as Parameters<typeof imagesOf>[0]), granted);
    if (denied.length === 0) {
      const restore = restorePatch(w);
      if (restore) actions.push({ type: 'Restore', workload: ref, image: '', patch: restore, message: `license valid again: ${describeRestore(w)}` });
      continue;
    }
    const image = denied[0]!.image;
    const action = violationAction(w, onViolation, image);
    if (!action) continue;
    actions.push({ ...action, workload: ref, image, message: `${action.message}: image ${image} is not licensed for customer ${granted.customer}` });
  }
  return actions;
}

function violationAction(w: Workload, onViolation: ViolationAction, image: string): Omit<SweepAction, 'workload' | 'image'> | undefined {
  const annotations = w.metadata?.annotations ?? {};
  if (onViolation === 'None') {
    if (annotations[UNLICENSED_ANNOTATION] === image) return undefined;
    return { type: 'Report', patch: { metadata: { annotations: { [UNLICENSED_ANNOTATION]: image } } }, message: 'left running (onViolation: None)' };
  }
  if (onViolation === 'Delete') return { type: 'Delete', message: `deleted ${w.kind}` };
  const kind = w.kind!;
  if (REPLICATED_KINDS.includes(kind)) {
    const replicas = replicasOf(w as Parameters<typeof replicasOf>[0]);
    if (replicas === 0) return undefined;
    // Keep the first recorded count: a second sweep must not overwrite it with 0.
    const recorded = annotations[REPLICAS_ANNOTATION] ?? String(replicas);
    return {
      type: 'ScaleToZero',
      patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: recorded } }, spec: { replicas: 0 } },
      message: `scaled to 0 (from ${recorded})`,
    };
  }
  if (SUSPENDABLE_KINDS.includes(kind)) {
    if (w.spec?.suspend === true) return undefined;
    return { type: 'Suspend', patch: { metadata: { annotations: { [SUSPENDED_ANNOTATION]: 'true' } }, spec: { suspend: true } }, message: 'suspended' };
  }
  if (kind === 'DaemonSet') {
    const selector = w.spec?.template?.spec?.nodeSelector ?? {};
    if (selector[STOPPED_NODE_LABEL] !== undefined) return undefined;
    return {
      type: 'StopDaemonSet',
      patch: {
        metadata: { annotations: { [NODE_SELECTOR_ANNOTATION]: JSON.stringify(selector) } },
        spec: { template: { spec: { nodeSelector: { [STOPPED_NODE_LABEL]: 'true' } } } },
      },
      message: 'stopped (its pods now need a node label no node has)',
    };
  }
  // A bare Pod cannot be scaled: it is deleted (its controller-less spec is in the Event).
  if (kind === 'Pod') return { type: 'Delete', message: 'deleted bare Pod' };
  return undefined;
}

/** The patch that undoes an earlier enforcement action, if the workload carries one. */
function restorePatch(w: Workload): Record<string, unknown> | undefined {
  const annotations = w.metadata?.annotations ?? {};
  if (annotations[UNLICENSED_ANNOTATION] !== undefined) {
    return { metadata: { annotations: { [UNLICENSED_ANNOTATION]: null } } };
  }
  if (annotations[REPLICAS_ANNOTATION] !== undefined) {
    return { metadata: { annotations: { [REPLICAS_ANNOTATION]: null } }, spec: { replicas: Number(annotations[REPLICAS_ANNOTATION]) } };
  }
  if (annotations[SUSPENDED_ANNOTATION] !== undefined) {
    return { metadata: { annotations: { [SUSPENDED_ANNOTATION]: null } }, spec: { suspend: false } };
  }
  if (annotations[NODE_SELECTOR_ANNOTATION] !== undefined) {
    const before = JSON.parse(annotations[NODE_SELECTOR_ANNOTATION]) as Record<string, string>;
    // A merge patch replaces map keys one by one: drop ours, put back the old ones.
    const nodeSelector: Record<string, string | null> = { ...before, [STOPPED_NODE_LABEL]: null };
    return { metadata: { annotations: { [NODE_SELECTOR_ANNOTATION]: null } }, spec: { template: { spec: { nodeSelector } } } };
  }
  return undefined;
}

function describeRestore(w: Workload): string {
  const annotations = w.metadata?.annotations ?? {};
  if (annotations[REPLICAS_ANNOTATION] !== undefined) return `replicas restored to ${annotations[REPLICAS_ANNOTATION]}`;
  if (annotations[SUSPENDED_ANNOTATION] !== undefined) return 'resumed';
  if (annotations[UNLICENSED_ANNOTATION] !== undefined) return 'no longer reported';
  return 'restarted';
}
