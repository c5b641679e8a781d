/**
 * The HTTPS admission webhook. It answers from in-memory caches (no API call on the request
 * path), so it answers in milliseconds; it swaps certificates without a restart.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { TlsBundle } from '../kube/certs.js';
import { reviewAdmission, type AdmissionReviewRequest, type AdmissionReviewResponse, type ReviewContext } from '../enforcement/review.js';
import { LIMITS_WEBHOOK_PATH, WEBHOOK_PATH } from '../enforcement/webhook-config.js';

/** Largest AdmissionReview accepted; the API server sends at most a few MB. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** How long an idle connection from the API server stays open: longer than its own idle timeout (90 s). */
const KEEP_ALIVE_MS = 120_000;

export interface WebhookServer {
  port: number;
  /** Replaces the serving certificate for new connections. */
  setTls(bundle: Pick<TlsBundle, 'cert' | 'key'>): void;
  close(): Promise<void>;
}

export async function serveWebhook(args: {
  port: number;
  host?: string;
  tls: Pick<TlsBundle, 'cert' | 'key'>;
  ctx: ReviewContext;
  log: Logger;
  onReviewed?: (durationMs: number, allowed: boolean) => void;
  /** Answers the limits webhook (LIMITS_WEBHOOK_PATH); absent, that path is not served. */
  limits?: (request: AdmissionReviewRequest) => Promise<AdmissionReviewResponse>;
}): Promise<WebhookServer> {
  const server: Server = createServer({ cert: args.tls.cert, key: args.tls.key }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const limits = path === LIMITS_WEBHOOK_PATH ? args.limits : undefined;
    if (req.method !== 'POST' || (path !== WEBHOOK_PATH && !limits)) {
      res.writeHead(404).end();
      return;
    }
    const started = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', async () => {
      let body: { request?: AdmissionReviewRequest };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('malformed AdmissionReview');
        return;
      }
      if (!body.request?.uid) {
        res.writeHead(400).end('AdmissionReview has no request');
        return;
      }
      let response: AdmissionReviewResponse;
      try {
        response = limits ? await limits(body.request) : reviewAdmission(body.request, args.ctx);
      } catch (error) {
        // Fail closed, with a reason the user can read.
        args.log.error({ err: error, uid: body.request.uid }, 'admission review failed');
        response = { uid: body.request.uid, allowed: false, status: { code: 500, reason: 'InternalError', message: 'licensegate: webhook error; see operator logs' } };
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }),
      );
      args.onReviewed?.(performance.now() - started, response.allowed);
    });
  });
  // The API server keeps idle webhook connections for 90 s (Go's IdleConnTimeout); Node closes
  // them after 5 s by default, so a request after a quiet spell paid a new TLS handshake.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, args.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    setTls: (bundle) => server.setSecureContext({ cert: bundle.cert, key: bundle.key }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
