/**
 * Running the operator process: config → logger → clients → operator and HTTP endpoint. SIGTERM and
 * SIGINT drain in-flight reconciles and release the lease before exiting.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig } from './config.js';
import { serveHttp } from './http.js';
import { createLogger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import { Operator } from './operator.js';

/** Runs the operator until a signal arrives; resolves when it has shut down. */
export async function runOperator(kc: KubeConfig = defaultKubeConfig(), afterStop?: () => Promise<void>): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const metrics = new OperatorMetrics({ processMetrics: true });
  const operator = new Operator({ kc, config, log, metrics, onLostLeadership: () => shutdown('lost-leadership', 1) });
  const http = await serveHttp({ port: config.LICENSEGATE_HTTP_PORT, registry: metrics.registry, ready: () => operator.ready });
  log.info({ port: http.port, cluster: kc.getCurrentCluster()?.server }, 'operator starting');

  let stopping = false;
  async function shutdown(reason: string, code = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'operator stopping');
    await operator.stop();
    await http.close();
    await afterStop?.();
    log.info({}, 'operator stopped');
    process.exit(code);
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await operator.start();
}

/** In a pod: the ServiceAccount; elsewhere: KUBECONFIG or ~/.kube/config. */
function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
