/** Installing licensegate's CRDs and waiting until the API server serves them. */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { applyObjects, readYamlObjects } from './apply.js';

/** The repository's generated CRD directory. */
export const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');

/** Applies every CRD in `dir` and resolves once each is Established (or rejects after `timeoutMs`). */
export async function installCrds(kc: KubeConfig, dir = CRD_DIR, timeoutMs = 30_000): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
  const applied = await applyObjects(kc, await readYamlObjects(files));
  const names = applied.map((crd) => crd.metadata?.name ?? '');
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd: V1CustomResourceDefinition = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return names;
}
