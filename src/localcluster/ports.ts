import { createServer } from 'node:net';

/**
 * A loopback TCP port that was free a moment ago: the kernel picks it for a throwaway listener
 * on port 0. Another process could take it before the caller binds it; on loopback in a test
 * run that race is rare enough to accept.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('listener on port 0 reported no port'));
      });
    });
  });
}
