/** The gate's listening socket: HTTP or HTTPS, hardened against malformed clients, with graceful close and certificate swaps. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface GateServer {
  port: number;
  /** Swaps the certificate of a TLS gate in place (rotation); new connections use it. */
  setTls(tls: { cert: string; key: string }): void;
  /** Stops accepting, waits up to `graceMs` (default 20 s) for requests in flight. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on host:port, over TLS when a certificate is given. */
export async function listenGate(args: { host: string; port: number; tls?: { cert: string; key: string }; handler: (req: IncomingMessage, res: ServerResponse) => void; log: Logger }): Promise<GateServer> {
  const options: http.ServerOptions = { maxHeaderSize: 16 * 1024, headersTimeout: 20_000, requestTimeout: 60_000, keepAliveTimeout: 30_000 };
  const server = args.tls ? https.createServer({ ...options, cert: args.tls.cert, key: args.tls.key }, args.handler) : http.createServer(options, args.handler);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Oversized headers, garbage, TLS noise: answer if the socket still can, never crash.
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, args.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    setTls: (tls) => {
      if (server instanceof https.Server) server.setSecureContext({ cert: tls.cert, key: tls.key });
    },
    close: (graceMs = 20_000) =>
      new Promise<void>((resolve) => {
        // Stop accepting; let pulls in flight finish (a rolling update should not cut a layer
        // download short), then cut whatever is left.
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      }),
  };
}
