/**
 * What to do about workloads already running out of license. Pure: given the workloads of a
 * customer namespace, what is granted there (including licenses still in their grace
 * period) and the customer's onViolation, it returns the actions; the reconciler carries them
 * out. Nothing here ever touches a PersistentVolumeClaim.
 */
import type { VersionPolicySpec, ViolationAction } from '../api/index.js';
import { desiredPods, type WorkloadObject } from '../licensing/usage.js';
import { deniedImages } from './decide.js';
import { imagesOf, REPLICATED_KINDS, replicasOf, SUSPENDABLE_KINDS } from './workload.js';

/*
 * Where the sweep keeps its memory. The annotations below are what the operator must remember
 * about a workload it acted on (the count to restore, that it suspended or stopped it, what it
 * reported). They stay on the workload, where tenants can see why it stopped and where they
 * survive operator restarts without another object to keep in step, because the protection
 * policy (protection.ts, PROTECT_ENFORCEMENT_POLICY) refuses any create or update by anyone
 * but the operator that adds, changes or removes them. They are still read defensively: a
 * value the operator could not have written (the policy not installed, an admin's edit) is
 * never trusted, never throws, and never restores a count: the record is dropped with a
 * Warning (DiscardRecord) and the workload is left as it is, for its owners to scale up.
 */

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

export type SweepActionType = 'ScaleToZero' | 'Suspend' | 'StopDaemonSet' | 'Delete' | 'Report' | 'Restore' | 'DiscardRecord';

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

/**
 * Plans the sweep of one namespace. `granted` includes licenses still in their grace period.
 * `beyondLimits` ("Kind/name" → why) names the licensed workloads that run beyond a limit
 * after its grace period (licensing/limit-sweep.ts): they get onViolation too, and one that
 * enforcement stopped stays stopped while it has no room.
 */
export function planSweep(
  workloads: Workload[],
  granted: VersionPolicySpec,
  onViolation: ViolationAction,
  beyondLimits: ReadonlyMap<string, string> = new Map(),
): SweepAction[] {
  const actions: SweepAction[] = [];
  for (const w of workloads) {
    if (!w.kind || !w.metadata?.name || !w.metadata.namespace || w.metadata.deletionTimestamp) continue;
    if (isControlled(w) && w.kind !== 'Job') continue;
    const ref = { apiVersion: w.apiVersion ?? 'v1', kind: w.kind, namespace: w.metadata.namespace, name: w.metadata.name };
    const images = imagesOf(w as Parameters<typeof imagesOf>[0]);
    const denied = deniedImages(images, granted);
    const beyond = beyondLimits.get(`${w.kind}/${w.metadata.name}`);
    if (denied.length === 0 && beyond === undefined) {
      const restore = restoreAction(w);
      if (restore) actions.push({ ...restore, workload: ref, image: '' });
      continue;
    }
    const image = denied[0]?.image ?? images[0] ?? '';
    const action = violationAction(w, onViolation, image);
    if (!action) continue;
    const why = denied.length > 0 ? `image ${image} is not licensed for customer ${granted.customer}` : beyond!;
    actions.push({ ...action, workload: ref, image, message: `${action.message}: ${why}` });
  }
  return actions;
}

/**
 * The pods a workload that enforcement stopped would run once restored (what its record
 * says), or undefined when enforcement has not stopped it. A record the operator cannot have
 * written counts as none, as in {@link restoreAction}.
 */
export function stoppedPods(w: Workload, nodeCount: number): number | undefined {
  const annotations = w.metadata?.annotations ?? {};
  if (annotations[REPLICAS_ANNOTATION] !== undefined && REPLICATED_KINDS.includes(w.kind ?? '') && replicasOf(w as Parameters<typeof replicasOf>[0]) === 0) {
    return readReplicas(annotations[REPLICAS_ANNOTATION]);
  }
  if (annotations[SUSPENDED_ANNOTATION] !== undefined && w.spec?.suspend === true) {
    return desiredPods({ ...w, spec: { ...w.spec, suspend: false } } as WorkloadObject, nodeCount);
  }
  // Its status says 0 scheduled while stopped: once restarted it runs on every node again.
  if (annotations[NODE_SELECTOR_ANNOTATION] !== undefined && w.kind === 'DaemonSet') return nodeCount;
  return undefined;
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
    // Keep the first recorded count: a second sweep must not overwrite it with 0. One the
    // operator cannot have written is replaced by what runs now.
    const recorded = String(readReplicas(annotations[REPLICAS_ANNOTATION]) ?? replicas);
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

/** The largest replica count the sweep records or restores; anything larger was not written by it. */
const MAX_RECORDED_REPLICAS = 1_000_000;

/** A recorded replica count, or undefined when the value is not one the operator writes. */
export function readReplicas(value: string | undefined): number | undefined {
  if (value === undefined || !/^(0|[1-9][0-9]{0,6})$/.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_RECORDED_REPLICAS ? n : undefined;
}

/** A recorded nodeSelector (a JSON object of strings), or undefined when it is anything else. */
export function readNodeSelector(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined || value.length > 16_384) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed);
  return entries.every(([, v]) => typeof v === 'string') ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

type PlannedRestore = Pick<SweepAction, 'type' | 'patch' | 'message'>;

/** Undoes an earlier enforcement action the workload carries a record of, if any. */
function restoreAction(w: Workload): PlannedRestore | undefined {
  const annotations = w.metadata?.annotations ?? {};
  const restore = (patch: Record<string, unknown>, what: string): PlannedRestore => ({ type: 'Restore', patch, message: `license valid again: ${what}` });
  const discard = (key: string, patch: Record<string, unknown>, what: string): PlannedRestore => ({
    type: 'DiscardRecord',
    patch,
    message: `annotation ${key} holds ${JSON.stringify(String(annotations[key]).slice(0, 64))}, which the operator did not write: record dropped, ${what}`,
  });
  const drop = (key: string) => ({ metadata: { annotations: { [key]: null } } });

  if (annotations[UNLICENSED_ANNOTATION] !== undefined) return restore(drop(UNLICENSED_ANNOTATION), 'no longer reported');
  if (annotations[REPLICAS_ANNOTATION] !== undefined) {
    const replicas = readReplicas(annotations[REPLICAS_ANNOTATION]);
    if (replicas === undefined) return discard(REPLICAS_ANNOTATION, drop(REPLICAS_ANNOTATION), 'replicas left as they are');
    // Only a workload still at zero is one the operator scaled down; one running again keeps its count.
    if (replicasOf(w as Parameters<typeof replicasOf>[0]) !== 0) return restore(drop(REPLICAS_ANNOTATION), 'already running; record dropped');
    return restore({ ...drop(REPLICAS_ANNOTATION), spec: { replicas } }, `replicas restored to ${replicas}`);
  }
  if (annotations[SUSPENDED_ANNOTATION] !== undefined) {
    return restore({ ...drop(SUSPENDED_ANNOTATION), ...(w.spec?.suspend === true ? { spec: { suspend: false } } : {}) }, 'resumed');
  }
  if (annotations[NODE_SELECTOR_ANNOTATION] !== undefined) {
    const before = readNodeSelector(annotations[NODE_SELECTOR_ANNOTATION]);
    // A merge patch replaces map keys one by one: drop ours, put back the old ones.
    const nodeSelector: Record<string, string | null> = { ...(before ?? {}), [STOPPED_NODE_LABEL]: null };
    const patch = { ...drop(NODE_SELECTOR_ANNOTATION), spec: { template: { spec: { nodeSelector } } } };
    if (!before) return discard(NODE_SELECTOR_ANNOTATION, patch, 'its stop removed, its former nodeSelector not restored');
    return restore(patch, 'restarted');
  }
  return undefined;
}
