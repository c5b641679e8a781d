import { Agent, request } from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../../../src/enforcement/webhook-config.js';
import { issueBundle } from '../../../src/kube/certs.js';
import { serveWebhook, type WebhookServer } from '../../../src/webhook/server.js';

describe('webhook transport', () => {
  let server: WebhookServer;
  let ca: string;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    const bundle = await issueBundle({ hosts: ['127.0.0.1'], now: new Date() });
    ca = bundle.caCert;
    server = await serveWebhook({
      port: 0,
      host: '127.0.0.1',
      tls: bundle,
      ctx: { policyFor: () => ({ customer: 'c', admission: 'Deny', repositories: {} }), parentFor: () => undefined },
      log: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  const review = (uid: string) =>
    new Promise<{ reused: boolean; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: server.port, path: WEBHOOK_PATH, method: 'POST', ca, agent, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ reused: req.reusedSocket, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ request: { uid, operation: 'CREATE', namespace: 'n', object: { kind: 'Pod', spec: { containers: [{ image: 'nginx' }] } } } }));
    });

  it('keeps an idle connection from the API server open past Node\'s 5 s default, so a quiet spell costs no TLS handshake', async () => {
    const first = await review('a');
    expect(JSON.parse(first.body).response).toEqual({ uid: 'a', allowed: true });
    await new Promise((r) => setTimeout(r, 6_000));
    const second = await review('b');
    expect(JSON.parse(second.body).response).toEqual({ uid: 'b', allowed: true });
    expect(second.reused).toBe(true);
  }, 15_000);
});
