/**
 * The part of a workload the operator keeps in its caches (issue #13: memory). The workload
 * informers watch nine kinds cluster-wide, so their caches hold every Pod, ReplicaSet, Job… of
 * the cluster, most of them in namespaces no customer owns. A projection keeps each one small
 * instead of narrowing the watches: a watch per customer namespace would be nine connections per
 * namespace (90,000 at 10,000 customers), and dropping objects of unlabelled namespaces on ingest
 * would race with a namespace being labelled later (its workloads would be missing until a
 * re-list).
 *
 * Kept: identity and metadata the sweep reads and writes (labels, annotations, owners), every
 * scalar field of `spec` and `status` (replicas, suspend, parallelism, desiredNumberScheduled…),
 * the selector, the pod template's labels and annotations, and of its pod spec the scalars, the
 * nodeSelector and each container's name and image. Dropped: managedFields, the
 * last-applied-configuration annotation, and every other list or map (env, volumes, probes,
 * resources, conditions, containerStatuses…). A reader that needs more adds it here, with a test
 * (test/unit/enforcement/workload-projection.test.ts).
 */
import { slimMetadata, type ObjectMeta } from '../vocabulary/object-meta.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields of `value` that are strings, numbers or booleans. */
function scalars(value: unknown): Json {
  const out: Json = {};
  if (!isObject(value)) return out;
  for (const [key, field] of Object.entries(value)) {
    if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean') out[key] = field;
  }
  return out;
}

function templateMetadata(metadata: unknown): Json | undefined {
  if (!isObject(metadata)) return undefined;
  const slim = slimMetadata(metadata as ObjectMeta)!;
  return { ...(slim.labels && { labels: slim.labels }), ...(slim.annotations && { annotations: slim.annotations }) };
}

const containers = (list: unknown) =>
  Array.isArray(list) ? list.map((c: unknown) => ({ ...(isObject(c) && { name: c.name, image: c.image }) })) : undefined;

function podSpec(spec: unknown): Json | undefined {
  if (!isObject(spec)) return undefined;
  return {
    ...scalars(spec),
    ...(isObject(spec.nodeSelector) && { nodeSelector: spec.nodeSelector }),
    containers: containers(spec.containers) ?? [],
    ...(spec.initContainers !== undefined && { initContainers: containers(spec.initContainers) }),
    ...(spec.ephemeralContainers !== undefined && { ephemeralContainers: containers(spec.ephemeralContainers) }),
  };
}

function podTemplate(template: unknown): Json | undefined {
  if (!isObject(template)) return undefined;
  return { metadata: templateMetadata(template.metadata), spec: podSpec(template.spec) };
}

/** A controller's spec: scalars, selector and pod template. */
function controllerSpec(spec: unknown): Json | undefined {
  if (!isObject(spec)) return undefined;
  return {
    ...scalars(spec),
    ...(isObject(spec.selector) && { selector: spec.selector }),
    ...(spec.template !== undefined && { template: podTemplate(spec.template) }),
  };
}

/**
 * The cached form of a workload of `kind` (lists carry no kind or apiVersion per item, so both
 * are set here: the sweep needs them to patch). Never write it back whole: it is a projection.
 */
export function projectWorkload(obj: Json, apiVersion: string, kind: string): Json {
  const out: Json = { apiVersion, kind, metadata: slimMetadata(obj.metadata as ObjectMeta | undefined) };
  switch (kind) {
    case 'Pod':
      out.spec = podSpec(obj.spec);
      break;
    case 'PodTemplate':
      out.template = podTemplate(obj.template);
      break;
    case 'CronJob': {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const jobTemplate = isObject(spec.jobTemplate) ? spec.jobTemplate : undefined;
      out.spec = {
        ...scalars(spec),
        ...(jobTemplate && { jobTemplate: { metadata: templateMetadata(jobTemplate.metadata), spec: controllerSpec(jobTemplate.spec) } }),
      };
      break;
    }
    default:
      out.spec = controllerSpec(obj.spec);
  }
  if (obj.status !== undefined) out.status = scalars(obj.status);
  return out;
}
