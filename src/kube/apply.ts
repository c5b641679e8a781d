/** Server-side apply of arbitrary objects, and loading them from YAML files. */
import { readFile } from 'node:fs/promises';
import {
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

/** The field manager of every write the operator makes. */
export const FIELD_MANAGER = 'licensegate';
/**
 * The field manager of tooling (npm start, the CLI, benchmarks) applying objects. It must
 * differ from the operator's: server-side apply drops fields a manager stops sending, so an
 * operator apply of a finalizer would otherwise delete a spec the same manager had applied.
 */
export const TOOL_FIELD_MANAGER = 'licensegate-apply';

/** Reads every YAML document of the given files, skipping empty ones. */
export async function readYamlObjects(files: string[]): Promise<KubernetesObject[]> {
  const objects: KubernetesObject[] = [];
  for (const file of files) {
    const docs = loadAllYaml(await readFile(file, 'utf8')) as (KubernetesObject | null)[];
    objects.push(...docs.filter((doc): doc is KubernetesObject => doc !== null && typeof doc === 'object'));
  }
  return objects;
}

/** Server-side applies each object in order (owning its fields as `fieldManager`); returns what the server stored (or would, on a dry run). */
export async function applyObjects(
  kc: KubeConfig,
  objects: readonly (KubernetesObject | { apiVersion: string; kind: string; [field: string]: unknown })[],
  options: { fieldManager?: string; dryRun?: boolean } = {},
): Promise<KubernetesObject[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const dryRun = options.dryRun ? 'All' : undefined;
  const applied: KubernetesObject[] = [];
  for (const object of objects) {
    applied.push(
      await client.patch(object as KubernetesObject, undefined, dryRun, options.fieldManager ?? TOOL_FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}
