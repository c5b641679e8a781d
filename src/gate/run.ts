/**
 * One registry gate process: informers over Licenses, Applications, Customers and the Secrets
 * of the gate's namespace feed the view; the server answers pulls; a second port serves
 * /metrics, /healthz and /readyz. The CLI and the tests start it through here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, VERSION, type Application, type Customer, type License } from '../api/index.js';
import { serveHttp, type HttpEndpoint } from '../http.js';
import { reuseConnections } from '../kube/connections.js';
import { Informer, type ApiServerAccess, type ObjectLike } from '../kube/informer.js';
import { UpstreamKnowledge } from './knowledge.js';
import { GateMetrics } from './metrics.js';
import { listenGate, type GateServer } from './listen.js';
import { gateHandler } from './server.js';
import { Upstream } from './upstream.js';
import { GateView } from './view.js';

export interface GateOptions {
  /** A client-node KubeConfig, or the gate's lighter access (apiaccess.ts). */
  kc: KubeConfig | ApiServerAccess;
  /** The gate's namespace: its credentials Secrets and the vendor's upstream credentials live here. */
  namespace: string;
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  /** Port of /metrics and the probes; undefined: none. */
  metricsPort?: number;
  /** Upstream hosts spoken to over plain HTTP (loopback test registries). */
  plainHttpUpstreams?: string[];
  clock?: () => Date;
  log: Logger;
  metrics?: GateMetrics;
  /** Page size asked of upstream tag lists (tests make it small to exercise pagination). */
  upstreamTagPageSize?: number;
}

export interface RunningGate {
  port: number;
  setTls(tls: { cert: string; key: string }): void;
  metricsPort: number | undefined;
  metrics: GateMetrics;
  /** Stops serving (waiting up to `graceMs` for pulls in flight) and stops the informers. */
  close(graceMs?: number): Promise<void>;
}

export async function startGate(options: GateOptions): Promise<RunningGate> {
  // client-node makes a TLS handshake per request unless told otherwise; the light access keeps connections itself.
  const kc = 'makeApiClient' in options.kc ? reuseConnections(options.kc) : options.kc;
  const { log } = options;
  const informers: Informer<ObjectLike>[] = [];
  const informer = <T extends ObjectLike>(path: string) => {
    const i = new Informer<T>(kc, { path, log });
    informers.push(i as unknown as Informer<ObjectLike>);
    return i;
  };
  const crd = (plural: string) => `/apis/${GROUP}/${VERSION}/${plural}`;
  const licenses = informer<License>(crd('licenses'));
  const applications = informer<Application>(crd('applications'));
  const customers = informer<Customer>(crd('customers'));
  const secrets = informer<V1Secret>(`/api/v1/namespaces/${options.namespace}/secrets`);
  const view = new GateView({ licenses, applications, customers, secrets }, options.namespace);
  // Any change may change a grant or a credential: decisions re-evaluate from the next request on.
  for (const i of informers) i.on('change', () => view.invalidate());

  const metrics = options.metrics ?? new GateMetrics();
  const clock = options.clock ?? (() => new Date());
  const upstream = new Upstream({ plainHttpHosts: new Set(options.plainHttpUpstreams ?? []) });
  const knowledge = new UpstreamKnowledge({ clock });
  const handle = gateHandler({ view, upstream, knowledge, metrics, clock, log, upstreamTagPageSize: options.upstreamTagPageSize });

  for (const i of informers) i.start();
  let synced = false;
  const ready = Promise.all(informers.map((i) => i.synced)).then(() => {
    synced = true;
  });
  let metricsEndpoint: HttpEndpoint | undefined;
  let server: GateServer | undefined;
  try {
    if (options.metricsPort !== undefined) metricsEndpoint = await serveHttp({ port: options.metricsPort, registry: metrics.registry, ready: () => synced });
    await ready;
    // Until the caches are synced every pull would be refused: listen only once they are.
    server = await listenGate({
      host: options.host,
      port: options.port,
      tls: options.tls,
      log,
      handler: (req: IncomingMessage, res: ServerResponse) => handle(req, res),
    });
  } catch (error) {
    for (const i of informers) void i.stop();
    await metricsEndpoint?.close();
    await upstream.close();
    throw error;
  }
  log.info({ port: server.port, namespace: options.namespace }, 'registry gate serving');
  return {
    port: server.port,
    setTls: (tls) => server.setTls(tls),
    metricsPort: metricsEndpoint?.port,
    metrics,
    async close(graceMs?: number) {
      await server.close(graceMs);
      await metricsEndpoint?.close();
      await Promise.all(informers.map((i) => i.stop()));
      await upstream.close();
    },
  };
}
