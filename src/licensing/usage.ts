/**
 * How much of an application a customer uses: desired pods and the namespaces running it.
 * Pure. Only top-level workloads count: a Deployment's ReplicaSets and Pods, a Job's Pods, a
 * CronJob's Jobs are already counted through their owner.
 */
import { normalizeRepository, parseImageReference } from '../vocabulary/image.js';

/** A workload as the API server returns it (any kind the admission rules cover). */
export interface WorkloadObject {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    ownerReferences?: { kind?: string; uid?: string; controller?: boolean }[];
  };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  status?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  template?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Container {
  image?: string;
}

function podSpec(w: WorkloadObject): { containers?: Container[]; initContainers?: Container[]; ephemeralContainers?: Container[] } | undefined {
  switch (w.kind) {
    case 'Pod':
      return w.spec;
    case 'CronJob':
      return w.spec?.jobTemplate?.spec?.template?.spec;
    case 'PodTemplate':
      return w.template?.spec;
    default:
      return w.spec?.template?.spec;
  }
}

/**
 * Repositories already worked out, per workload object. Cached objects are never changed in
 * place (an update replaces the object), so the answer for an object stays right; the webhook
 * and the reconciler scan every workload of a customer's namespaces on each request, and parsing
 * every image again made that scan 4× slower (bench/README.md §6).
 */
const repositoriesByObject = new WeakMap<object, ReadonlySet<string>>();

/** Normalised repositories of the workload's images (containers, init and ephemeral containers). */
export function repositoriesOf(w: WorkloadObject): ReadonlySet<string> {
  const known = repositoriesByObject.get(w);
  if (known) return known;
  const spec = podSpec(w);
  const all = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])];
  const repositories = new Set(all.map((c) => parseImageReference(c.image ?? '').repository));
  repositoriesByObject.set(w, repositories);
  return repositories;
}

/** Whether the workload runs an image of the application (given its repositories). */
export function runsApplication(w: WorkloadObject, applicationImages: readonly string[]): boolean {
  const repos = repositoriesOf(w);
  return applicationImages.some((image) => repos.has(normalizeRepository(image)));
}

const finished = (w: WorkloadObject) =>
  (w.status?.conditions ?? []).some((c: { type?: string; status?: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

/**
 * Pods the workload asks for: replicas of Deployments, StatefulSets, ReplicaSets and
 * ReplicationControllers (1 when unset, as the API defaults it); a Job's parallelism (capped
 * by its completions; 0 once suspended or finished); a CronJob's job parallelism (what it runs
 * each time it fires; 0 while suspended); a bare Pod 1 until it ends; a DaemonSet one per node
 * it is scheduled to (`nodeCount` before the DaemonSet controller has said). PodTemplates run nothing.
 */
export function desiredPods(w: WorkloadObject | undefined, nodeCount: number): number {
  if (!w || w.metadata?.deletionTimestamp) return 0;
  const count = (n: unknown, fallback: number) => (typeof n === 'number' && n >= 0 ? n : fallback);
  switch (w.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'ReplicationController':
      return count(w.spec?.replicas, 1);
    case 'Job':
      if (w.spec?.suspend === true || finished(w)) return 0;
      return Math.min(count(w.spec?.parallelism, 1), count(w.spec?.completions, Infinity));
    case 'CronJob': {
      if (w.spec?.suspend === true) return 0;
      const job = w.spec?.jobTemplate?.spec;
      return Math.min(count(job?.parallelism, 1), count(job?.completions, Infinity));
    }
    case 'Pod':
      return w.status?.phase === 'Succeeded' || w.status?.phase === 'Failed' ? 0 : 1;
    case 'DaemonSet':
      return count(w.status?.desiredNumberScheduled, nodeCount);
    default:
      return 0;
  }
}

/** The controller owner reference of a workload, if any. */
export function controllerOf(w: WorkloadObject): { kind?: string; uid?: string } | undefined {
  return (w.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
}

/**
 * The workloads that count: those without a controller, or whose controller is not among
 * `workloads` (a dangling or forged owner reference does not hide a workload).
 */
export function topLevel<T extends WorkloadObject>(workloads: readonly T[]): T[] {
  const uids = new Set(workloads.map((w) => w.metadata?.uid).filter((u): u is string => u !== undefined));
  return workloads.filter((w) => {
    const owner = controllerOf(w);
    return !owner?.uid || !uids.has(owner.uid);
  });
}

/** What one application uses across a customer's namespaces. */
export interface ApplicationUsage {
  /** Desired pods in all. */
  replicas: number;
  /** Namespace → names ("Kind/name") of its workloads of the application that run (desired pods > 0). */
  running: Map<string, string[]>;
}

export const workloadKey = (w: WorkloadObject) => `${w.kind}/${w.metadata?.name}`;

/**
 * Measures the application's usage over `workloads` (everything in the customer's namespaces,
 * any kind), leaving out the workload `except` (namespace and "Kind/name"): admission judges
 * that one by its new state.
 */
export function measureUsage(
  workloads: readonly WorkloadObject[],
  applicationImages: readonly string[],
  nodeCount: number,
  except?: { namespace: string; key: string },
): ApplicationUsage {
  const usage: ApplicationUsage = { replicas: 0, running: new Map() };
  const repositories = applicationImages.map(normalizeRepository);
  for (const w of topLevel(workloads)) {
    const namespace = w.metadata?.namespace ?? '';
    if (except && except.namespace === namespace && except.key === workloadKey(w)) continue;
    const runs = repositoriesOf(w);
    if (!repositories.some((r) => runs.has(r))) continue;
    const pods = desiredPods(w, nodeCount);
    usage.replicas += pods;
    if (pods > 0) {
      const here = usage.running.get(namespace);
      if (here) here.push(workloadKey(w));
      else usage.running.set(namespace, [workloadKey(w)]);
    }
  }
  return usage;
}
