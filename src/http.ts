/** The operator's HTTP endpoint: /metrics for Prometheus, /healthz and /readyz for the kubelet. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpEndpoint {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves metrics and probes. /healthz says the process is alive; /readyz says its caches
 * are synced (a standby replica is ready too: it only waits for the lease).
 */
export async function serveHttp(args: { port: number; registry: Registry; ready: () => boolean }): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      args.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': args.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ready = args.ready();
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ok' : 'caches not synced');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
