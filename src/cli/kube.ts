/**
 * The CLI's way to the cluster: KUBECONFIG like kubectl (client-node's loadFromDefault: the
 * KUBECONFIG files, else ~/.kube/config, else the in-cluster ServiceAccount), and API errors
 * turned into one line that says what to do.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/index.js';
import { apiError } from '../kube/errors.js';
import { CliError, ExitCode } from './errors.js';

export interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  server: string;
}

export function connect(): Cluster {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new CliError(`cannot load the kubeconfig (${(error as Error).message}); set KUBECONFIG to a valid kubeconfig file`, ExitCode.Usage);
  }
  const server = kc.getCurrentCluster()?.server ?? '(no current cluster)';
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), server };
}

/** Runs one API call; a failure becomes a CliError naming what went wrong and how to fix it. */
export async function call<T>(cluster: Cluster, what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw describeApiFailure(cluster, what, error);
  }
}

export function describeApiFailure(cluster: Cluster, what: string, error: unknown): CliError {
  const e = apiError(error);
  if (e.code === 0) {
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    const detail = cause?.code ?? cause?.message ?? e.message;
    return new CliError(`cannot reach the Kubernetes API server at ${cluster.server} (${detail}) while trying to ${what}; check KUBECONFIG and that the cluster is up`, ExitCode.Unavailable);
  }
  if (e.code === 401) return new CliError(`the API server at ${cluster.server} did not accept the kubeconfig's credentials (401) while trying to ${what}; log in again or pick another context`, ExitCode.Unavailable);
  if (e.code === 403) return new CliError(`not allowed to ${what}: ${e.message}`, ExitCode.Unavailable);
  if (e.code === 404 && /the server could not find the requested resource/i.test(e.message)) {
    return new CliError(`the licensegate CRDs are not installed on ${cluster.server}; install the chart (helm install licensegate …) first`, ExitCode.Unavailable);
  }
  if (e.code === 404) return new CliError(`cannot ${what}: not found`, ExitCode.Failure);
  if (e.code === 422 || e.code === 400) return new CliError(`the API server refused to ${what}: ${e.message}`, ExitCode.Usage);
  return new CliError(`cannot ${what}: ${e.message} (HTTP ${e.code})`, ExitCode.Unavailable);
}

export const crd = (plural: string) => ({ group: GROUP, version: VERSION, plural });

/** The UID of the kube-system namespace: the id a vendor binds a license to. */
export async function clusterId(cluster: Cluster): Promise<string> {
  const ns = await call(cluster, 'read the kube-system namespace', () => cluster.core.readNamespace({ name: 'kube-system' }));
  const uid = ns.metadata?.uid;
  if (!uid) throw new CliError('the kube-system namespace has no UID', ExitCode.Unavailable);
  return uid;
}
