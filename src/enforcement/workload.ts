/** Where each kind of workload keeps its pod spec, and which of them scale by replicas. */

/** The kinds the admission policy covers, with their resources. */
export const WORKLOAD_RESOURCES = [
  { group: '', resource: 'pods', kind: 'Pod' },
  { group: '', resource: 'replicationcontrollers', kind: 'ReplicationController' },
  { group: '', resource: 'podtemplates', kind: 'PodTemplate' },
  { group: 'apps', resource: 'deployments', kind: 'Deployment' },
  { group: 'apps', resource: 'replicasets', kind: 'ReplicaSet' },
  { group: 'apps', resource: 'statefulsets', kind: 'StatefulSet' },
  { group: 'apps', resource: 'daemonsets', kind: 'DaemonSet' },
  { group: 'batch', resource: 'jobs', kind: 'Job' },
  { group: 'batch', resource: 'cronjobs', kind: 'CronJob' },
] as const;

/** Kinds whose spec.replicas says how many pods run. */
export const REPLICATED_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'ReplicationController'];
/** Kinds that stop running by spec.suspend. */
export const SUSPENDABLE_KINDS = ['Job', 'CronJob'];

interface Container {
  image?: string;
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
}
type AnyObject = { kind?: string; spec?: any; template?: any } | null | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The pod spec inside a workload object (Pod, CronJob, PodTemplate, or a controller's template). */
export function podSpecOf(object: AnyObject): PodSpec | undefined {
  if (!object) return undefined;
  switch (object.kind) {
    case 'Pod':
      return object.spec;
    case 'CronJob':
      return object.spec?.jobTemplate?.spec?.template?.spec;
    case 'PodTemplate':
      return object.template?.spec;
    default:
      return object.spec?.template?.spec;
  }
}

/** Every image of containers, init containers and ephemeral containers, in that order. */
export function imagesOf(object: AnyObject): string[] {
  const spec = podSpecOf(object);
  if (!spec || typeof spec !== 'object') return [];
  // The sweep reads objects from a cache, not through admission: tolerate any shape.
  const list = (containers: unknown): Container[] => (Array.isArray(containers) ? containers : []);
  return [...list(spec.containers), ...list(spec.initContainers), ...list(spec.ephemeralContainers)].map((c) =>
    typeof c?.image === 'string' ? c.image : '',
  );
}

/** Replicas of a replicated workload (1 when unset, as the API defaults it). */
export function replicasOf(object: AnyObject): number {
  return typeof object?.spec?.replicas === 'number' ? object.spec.replicas : 1;
}

/** Whether an update makes a workload run more: more replicas, or un-suspended. */
export function raisesWorkload(object: AnyObject, oldObject: AnyObject): boolean {
  if (!object || !oldObject) return false;
  if (REPLICATED_KINDS.includes(object.kind ?? '')) return replicasOf(object) > replicasOf(oldObject);
  if (SUSPENDABLE_KINDS.includes(object.kind ?? '')) return oldObject.spec?.suspend === true && object.spec?.suspend !== true;
  return false;
}
