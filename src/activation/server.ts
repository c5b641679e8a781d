/**
 * The activation endpoint: `POST /v1/activations` with `{"key": …, "clusterId": …}` → 200 and
 * `{"license": <signed License manifest>}`, or an error status with `{"reason", "message"}`.
 * HTTPS when given a certificate; plain HTTP only behind a TLS-terminating proxy.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ActivationReason } from '../licensing/activation.js';
import type { ActivationService } from './service.js';

export const ACTIVATION_PATH = '/v1/activations';
const MAX_BODY = 16 * 1024;

export const activationRequest = z.object({
  key: z.string().min(1).max(200),
  clusterId: z.string().min(1).max(64),
});

export interface ActivationServer {
  url: string;
  close(): Promise<void>;
}

export async function serveActivation(options: {
  service: ActivationService;
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  log: Logger;
}): Promise<ActivationServer> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void handle(options.service, options.log, req, res).catch((error: unknown) => {
      options.log.error({ err: error }, 'activation failed');
      if (!res.headersSent) reply(res, 500, { reason: 'InternalError', message: 'the activation server failed; try again later' });
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function handle(service: ActivationService, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === '/healthz' && req.method === 'GET') return reply(res, 200, { ok: true });
  if (req.url !== ACTIVATION_PATH) return reply(res, 404, { reason: 'NotFound', message: `POST ${ACTIVATION_PATH}` });
  if (req.method !== 'POST') return reply(res, 405, { reason: 'MethodNotAllowed', message: `POST ${ACTIVATION_PATH}` });
  const body = await readBody(req);
  if (body === undefined) return reply(res, 413, { reason: ActivationReason.BadRequest, message: 'request too large' });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return reply(res, 400, { reason: ActivationReason.BadRequest, message: 'the request body is not JSON' });
  }
  const request = activationRequest.safeParse(json);
  if (!request.success) return reply(res, 400, { reason: ActivationReason.BadRequest, message: 'send {"key": ACTIVATION_KEY, "clusterId": UID}' });
  const result = await service.activate(request.data.key, request.data.clusterId);
  if (!result.ok) {
    log.info({ reason: result.reason, clusterId: request.data.clusterId }, 'activation refused');
    return reply(res, result.status, { reason: result.reason, message: result.message });
  }
  log.info({ license: result.license.metadata.name, clusterId: request.data.clusterId }, 'license activated');
  reply(res, 200, { license: result.license });
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
