/**
 * The enforcement sweep as its own controller, keyed by namespace. The customer reconciler
 * tells it what may keep running in each customer namespace (setTarget); VersionPolicy
 * changes reach it that way, workload spec changes through the workload informers. A sweep
 * plans (enforcement/sweep.ts, pure) and carries out every action on its own: one workload
 * that cannot be patched gets an Event and a metric, the others are still handled, and the
 * namespace is retried with backoff, while customer statuses, written elsewhere, never wait.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { VersionPolicy, ViolationAction } from '../api/index.js';
import { planSweep, type SweepAction, type Workload } from '../enforcement/sweep.js';
import { apiError } from '../kube/errors.js';
import type { KubeWriter } from '../kube/writer.js';
import type { OperatorMetrics } from '../metrics.js';
import type { WorkloadCache } from './caches.js';
import { sameJson } from './equality.js';

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
/** Event reason when an action failed (the sweep retries the namespace). */
export const ENFORCEMENT_FAILED = 'EnforcementFailed';

/** What may keep running in one customer namespace, and what to do about the rest. */
export interface SweepTarget {
  customer: string;
  policy: VersionPolicy;
  onViolation: ViolationAction;
  /** Licensed workloads running beyond a limit after its grace period ("Kind/name" → why). */
  beyondLimits: ReadonlyMap<string, string>;
}

export interface SweepControllerDeps {
  writer: KubeWriter;
  log: Logger;
  workloads: WorkloadCache[];
  dryRun: boolean;
  clock: () => Date;
  metrics?: OperatorMetrics;
}

export class SweepController {
  private readonly targets = new Map<string, SweepTarget>();
  /** The namespaces with a target, by customer: a customer's reconcile must not scan every namespace's. */
  private readonly namespacesOf = new Map<string, Set<string>>();
  /**
   * On a dry run, the workload state last reported per workload ("Kind/name" → "action@generation"),
   * by namespace: each state is reported once per process. Pruned to the workloads that still
   * exist on every sweep, and dropped with the namespace's target.
   */
  private readonly reported = new Map<string, Map<string, string>>();

  constructor(private readonly deps: SweepControllerDeps) {}

  /**
   * Sets (or, with undefined, clears) the target of a namespace. Returns whether it changed,
   * i.e. whether the namespace needs a sweep.
   */
  setTarget(namespace: string, target: SweepTarget | undefined): boolean {
    const current = this.targets.get(namespace);
    if (current && current.customer !== target?.customer) {
      const others = this.namespacesOf.get(current.customer);
      others?.delete(namespace);
      if (others?.size === 0) this.namespacesOf.delete(current.customer);
    }
    if (!target) {
      this.reported.delete(namespace);
      return this.targets.delete(namespace);
    }
    this.targets.set(namespace, target);
    if (!this.namespacesOf.has(target.customer)) this.namespacesOf.set(target.customer, new Set());
    this.namespacesOf.get(target.customer)!.add(namespace);
    return (
      !current ||
      current.onViolation !== target.onViolation ||
      !sameJson(current.policy.spec, target.policy.spec) ||
      !sameJson([...current.beyondLimits], [...target.beyondLimits])
    );
  }

  /**
   * Replaces the targets of one customer: its namespaces now, all others of it cleared.
   * `beyondLimits` is by namespace. Returns the namespaces to sweep.
   */
  setCustomerTargets(
    customer: string,
    policies: VersionPolicy[],
    onViolation: ViolationAction,
    beyondLimits: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(),
  ): string[] {
    const changed: string[] = [];
    const wanted = new Set(policies.map((p) => p.metadata.namespace!));
    for (const namespace of [...(this.namespacesOf.get(customer) ?? [])]) {
      if (!wanted.has(namespace) && this.setTarget(namespace, undefined)) changed.push(namespace);
    }
    for (const policy of policies) {
      const namespace = policy.metadata.namespace!;
      if (this.setTarget(namespace, { customer, policy, onViolation, beyondLimits: beyondLimits.get(namespace) ?? new Map() })) changed.push(namespace);
    }
    return changed;
  }

  /** Every namespace with a target (the periodic resync sweeps them all). */
  namespaces(): string[] {
    return [...this.targets.keys()];
  }

  /** Whether a namespace is swept (a workload change elsewhere needs no sweep). */
  has(namespace: string): boolean {
    return this.targets.has(namespace);
  }

  /** Entries of the bookkeeping maps, for tests: bounded by live namespaces and workloads. */
  get entries(): { targets: number; reported: number } {
    let reported = 0;
    for (const m of this.reported.values()) reported += m.size;
    return { targets: this.targets.size, reported };
  }

  /** Sweeps one namespace. Throws after trying every action if any failed, so the queue retries the namespace alone. */
  async reconcile(namespace: string): Promise<{ requeueAfterMs?: number }> {
    const target = this.targets.get(namespace);
    if (!target) return {};
    const workloads = this.deps.workloads.flatMap((cache) => cache.inNamespace(namespace));
    const reported = this.reportedIn(namespace, workloads);
    const failures: string[] = [];
    for (const action of planSweep(workloads, target.policy.spec, target.onViolation, target.beyondLimits)) {
      const id = `${action.workload.kind}/${action.workload.name}`;
      const state = `${action.type}@${generationOf(workloads, action)}`;
      if (this.deps.dryRun && reported.get(id) === state) continue;
      try {
        await this.carryOut(action);
        if (this.deps.dryRun) reported.set(id, state);
      } catch (error) {
        failures.push(`${id}: ${await this.recordFailure(action, error)}`);
      }
    }
    if (failures.length > 0) throw new Error(`enforcement in ${namespace} failed for ${failures.join('; ')}`);
    return {};
  }

  /** The dry-run memory of a namespace, pruned to the workloads it has now. */
  private reportedIn(namespace: string, workloads: Workload[]): Map<string, string> {
    let reported = this.reported.get(namespace);
    if (!reported) this.reported.set(namespace, (reported = new Map()));
    const present = new Set(workloads.map((w) => `${w.kind}/${w.metadata?.name}`));
    for (const id of reported.keys()) if (!present.has(id)) reported.delete(id);
    return reported;
  }

  private async carryOut(action: SweepAction): Promise<void> {
    const { writer, log, metrics } = this.deps;
    const { workload } = action;
    const object = { apiVersion: workload.apiVersion, kind: workload.kind, metadata: { name: workload.name, namespace: workload.namespace } };
    const subject = { apiVersion: workload.apiVersion, kind: workload.kind, name: workload.name, namespace: workload.namespace };
    const fields = { kind: workload.kind, namespace: workload.namespace, name: workload.name, action: action.type, image: action.image };
    if (this.deps.dryRun) {
      log.info(fields, 'enforcement dry run');
      metrics?.sweepActions.inc({ action: action.type, outcome: 'dryRun' });
      await writer.event(subject, 'Warning', `DryRun${SweepEventReason[action.type]}`, `dry run, would have: ${action.message}`, this.deps.clock());
      return;
    }
    if (action.type === 'Delete') await writer.delete(object);
    else if (action.patch) {
      const patchMetadata = (action.patch.metadata ?? {}) as Record<string, unknown>;
      await writer.mergePatch({ ...object, ...action.patch, metadata: { ...object.metadata, ...patchMetadata } } as KubernetesObject);
    }
    metrics?.sweepActions.inc({ action: action.type, outcome: 'done' });
    log.info(fields, 'enforcement action');
    await writer.event(subject, action.type === 'Restore' ? 'Normal' : 'Warning', SweepEventReason[action.type], action.message, this.deps.clock());
  }

  /** Logs, counts and (best effort) records an Event for a failed action; returns its one-line cause. */
  private async recordFailure(action: SweepAction, error: unknown): Promise<string> {
    const { workload } = action;
    const { code, message } = apiError(error);
    const cause = code ? `${code} ${message}` : error instanceof Error ? error.message : String(error);
    this.deps.metrics?.sweepActions.inc({ action: action.type, outcome: 'failed' });
    this.deps.log.warn({ kind: workload.kind, namespace: workload.namespace, name: workload.name, action: action.type, cause }, 'enforcement action failed');
    try {
      await this.deps.writer.event(
        { apiVersion: workload.apiVersion, kind: workload.kind, name: workload.name, namespace: workload.namespace },
        'Warning',
        ENFORCEMENT_FAILED,
        `could not carry out ${action.type} (${action.message}): ${cause}; retrying`,
        this.deps.clock(),
      );
    } catch {
      // The log line and the metric stand; the retry will try the Event again.
    }
    return cause;
  }
}

function generationOf(workloads: Workload[], action: SweepAction): number {
  const w = workloads.find((x) => x.kind === action.workload.kind && x.metadata?.name === action.workload.name) as { metadata?: { generation?: number } } | undefined;
  return w?.metadata?.generation ?? 0;
}

/**
 * Whether a workload change can change what the sweep does: its spec (generation, or the spec
 * itself for kinds without one), its annotations (the sweep's records), or its deletion. Status
 * updates (every Pod's, every rollout's) are not.
 */
export function sweepRelevantChange(old: Workload | undefined, current: Workload): boolean {
  if (!old) return true;
  const gen = (w: Workload) => (w.metadata as { generation?: number } | undefined)?.generation;
  if (gen(old) !== gen(current)) return true;
  if (gen(current) === undefined && !sameJson(old.spec, current.spec)) return true;
  if (!sameJson(old.metadata?.annotations ?? {}, current.metadata?.annotations ?? {})) return true;
  return (old.metadata?.deletionTimestamp ?? null) !== (current.metadata?.deletionTimestamp ?? null);
}
