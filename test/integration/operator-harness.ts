/** Running the operator in-process against the test cluster, and waiting on the cluster by watching. */
import type { KubeConfig } from '@kubernetes/client-node';
import { serviceAccountKubeConfig } from '../../src/localcluster/index.js';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { Informer, type ObjectLike } from '../../src/kube/informer.js';
import { Operator } from '../../src/operator.js';

export const testLog = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Starts an operator (leader election off unless asked) and resolves once its caches are synced. */
export async function startOperator(kc: KubeConfig, env: Record<string, string> = {}, clock?: () => Date): Promise<Operator> {
  // The webhook is on by default in production; tests that want it say so (and pick a port).
  const config = loadConfig({ LICENSEGATE_LEADER_ELECTION: 'false', LICENSEGATE_HTTP_PORT: '0', LICENSEGATE_WEBHOOK: 'false', ...env });
  const operator = new Operator({ kc, config, log: testLog, ...(clock ? { clock } : {}) });
  startedInThisFile.add(operator);
  await operator.start();
  return operator;
}

/**
 * Every operator this file started, stopped or not. A test that times out keeps running after
 * its file ends, and an operator it starts late would re-create the webhook configuration and
 * then die with the file's worker, leaving every later file's requests to a dead port (seen in
 * CI): the file's teardown stops them all (stop is idempotent).
 */
const startedInThisFile = new Set<Operator>();

/** Stops every operator this file started (file-setup.ts calls it after the file's own hooks). */
export async function stopOperatorsOfThisFile(): Promise<void> {
  for (const operator of startedInThisFile) await operator.stop().catch(() => undefined);
  startedInThisFile.clear();
}

/**
 * Watches a collection and resolves with the first state for which `predicate` returns a
 * value other than undefined: the answer comes from watch events, never from sleeping.
 */
export async function watchUntil<T extends ObjectLike, R>(
  kc: KubeConfig,
  path: string,
  predicate: (objects: T[]) => R | undefined,
  timeoutMs = 20_000,
): Promise<R> {
  const informer = new Informer<T>(kc, { path, log: testLog });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<R>((resolve, reject) => {
      const check = () => {
        try {
          const result = predicate(informer.list());
          if (result !== undefined) resolve(result);
        } catch (error) {
          reject(error as Error);
        }
      };
      timer = setTimeout(
        () => reject(new Error(`condition on ${path} not met within ${timeoutMs} ms; last state: ${JSON.stringify(informer.list()).slice(0, 3000)}`)),
        timeoutMs,
      );
      informer.on('change', check);
      informer.synced.then(check, reject);
      informer.start();
    });
  } finally {
    clearTimeout(timer);
    informer.stop();
  }
}

/**
 * Watches a collection until `assertion` passes on its objects (it should throw, e.g. with
 * `expect`, while the state is not there yet); on timeout the last assertion error is thrown.
 */
export async function watchUntilPasses<T extends ObjectLike>(
  kc: KubeConfig,
  path: string,
  assertion: (objects: T[]) => void,
  timeoutMs = 20_000,
): Promise<void> {
  let lastError: unknown;
  try {
    await watchUntil<T, true>(
      kc,
      path,
      (objects) => {
        try {
          assertion(objects);
          return true;
        } catch (error) {
          lastError = error;
          return undefined;
        }
      },
      timeoutMs,
    );
  } catch (error) {
    throw lastError ?? error;
  }
}

/**
 * A kubeconfig for the operator's own identity, the ServiceAccount licensegate-system/licensegate
 * (bound to cluster-admin here; the chart's RBAC is narrower), so that the operator and the
 * tests' admin user are told apart by the policies' exemptions.
 */
export function operatorKubeConfig(admin: KubeConfig, serviceAccount = 'licensegate'): Promise<KubeConfig> {
  return serviceAccountKubeConfig(admin, { namespace: 'licensegate-system', name: serviceAccount, clusterRole: 'cluster-admin' });
}
