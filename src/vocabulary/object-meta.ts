/** Metadata every object carries, and the parts of it no licensegate reader needs. */

/** kubectl apply keeps a full copy of the applied object here: often the largest part of a small object. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The metadata fields this module touches (any Kubernetes ObjectMeta fits). */
export interface ObjectMeta {
  managedFields?: unknown;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * metadata without managedFields and the last-applied-configuration annotation, the two parts
 * nothing in the operator reads. Server-side apply and merge patches need neither in the cache.
 */
export function slimMetadata<M extends ObjectMeta>(metadata: M | undefined): M | undefined {
  if (!metadata) return metadata;
  const { managedFields: _managedFields, ...rest } = metadata;
  const annotations = metadata.annotations;
  if (!annotations || !(LAST_APPLIED_ANNOTATION in annotations)) return rest as M;
  const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...kept } = annotations;
  return { ...rest, annotations: kept } as M;
}

/** `obj` with {@link slimMetadata}: the transform of every informer whose readers need the rest. */
export function slimObject<T extends { metadata?: ObjectMeta }>(obj: T): T {
  return obj.metadata ? { ...obj, metadata: slimMetadata(obj.metadata) } : obj;
}
