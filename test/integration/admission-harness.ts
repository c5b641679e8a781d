/** Admission tests' shared steps: install the policy, and ask the API server for a verdict by server-side dry run. */
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { renderAdmissionObjects } from '../../src/enforcement/policy.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';

/** The identity tests exempt from the policy (nobody uses it), standing in for the operator's. */
export const TEST_EXEMPT_USER = 'licensegate-test-exempt';

export async function installAdmissionPolicy(kc: KubeConfig): Promise<void> {
  await applyObjects(kc, renderAdmissionObjects({ exemptUsernames: [TEST_EXEMPT_USER] }), { fieldManager: 'test' });
}

export interface ServerVerdict {
  allowed: boolean;
  message: string;
  warnings: string[];
}

/** Creates (or updates) `object` with dryRun=All: admission runs in full, nothing is stored. */
export async function serverVerdict(kc: KubeConfig, object: KubernetesObject, operation: 'create' | 'replace' = 'create'): Promise<ServerVerdict> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  try {
    if (operation === 'create') await client.create(object, undefined, 'All');
    else await client.replace(object, undefined, 'All');
    return { allowed: true, message: '', warnings: [] };
  } catch (error) {
    const { code, message } = apiError(error);
    // 403/422: refused by a policy or webhook; 500: a webhook that could not be called (fail closed).
    if (code !== 403 && code !== 422 && code !== 500) throw error;
    return { allowed: false, message, warnings: [] };
  }
}

/** A Pod running `images` as containers. */
export function podWith(namespace: string, name: string, images: string[], initImages: string[] = []): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      containers: images.map((image, i) => ({ name: `c${i}`, image })),
      ...(initImages.length ? { initContainers: initImages.map((image, i) => ({ name: `i${i}`, image })) } : {}),
    },
  } as KubernetesObject;
}

/** A Deployment running `images`. */
export function deploymentWith(namespace: string, name: string, images: string[], replicas = 1, initImages: string[] = []): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: images.map((image, i) => ({ name: `c${i}`, image })),
          ...(initImages.length ? { initContainers: initImages.map((image, i) => ({ name: `i${i}`, image })) } : {}),
        },
      },
    },
  } as KubernetesObject;
}

/** Retries until the API server's admission reflects a just-written policy or param (its informers lag a little). */
export async function untilAdmission(check: () => Promise<boolean>, timeoutMs = 20_000, describe?: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A 404 (the operator has not created the customer's namespace yet) is "not yet" too.
  const attempt = () => check().catch((error: unknown) => {
    if (apiError(error).code === 404) return false;
    throw error;
  });
  while (!(await attempt())) {
    if (Date.now() > deadline) {
      const detail = describe ? `: ${JSON.stringify(await describe())}` : '';
      throw new Error(`admission did not reach the expected state in time${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
