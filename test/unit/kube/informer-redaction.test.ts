/**
 * Defect 7: an informer of Secrets must never log a Secret's body, however broken the stream.
 * A local HTTP server plays a misbehaving API server (garbage list, then a garbage watch line),
 * which no real API server can be made to send; the informer is the real one.
 */
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer } from '../../../src/kube/informer.js';

const SECRET = 'hunter2-do-not-log-me';
const B64 = Buffer.from(SECRET).toString('base64');
let server: Server | undefined;

afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

describe('Informer logs', () => {
  it('never contain a Secret body from a garbage list, error or watch line', async () => {
    let lists = 0;
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(`{"type":"ADDED","object":{"kind":"Secret","data":{"password":"${B64}","plain":"${SECRET}"}} trailing\n`);
        return; // leave it open: the informer must end it itself
      }
      lists++;
      if (lists === 1) return void res.writeHead(200).end(`{"items":[{"data":{"password":"${SECRET}"}}] garbage`);
      if (lists === 2) return void res.writeHead(502, { 'Content-Type': 'text/html' }).end(`<html>upstream said ${SECRET}</html>`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${address.port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const informer = new Informer<V1Secret>(kc, { path: '/api/v1/secrets', log, backoff: { baseMs: 1, capMs: 5 } });
    informer.start();
    try {
      await informer.synced;
      const deadline = Date.now() + 10_000;
      while (!lines.some((l) => l.includes('unparseable watch event')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      informer.stop();
    }
    const all = lines.join('');
    expect(all).toContain('unparseable watch event');
    expect(all).toContain('unparseable list response');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(B64);
  });
});
