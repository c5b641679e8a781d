/**
 * A TCP round-robin balancer in front of several webhook servers (TLS passes through; they
 * serve the same certificate), standing in for a Service with two operator replicas behind it.
 * It counts connections per upstream so a test can show every replica answered.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class RoundRobin {
  readonly connections: number[];
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, private readonly upstreams: number[]) {
    this.connections = upstreams.map(() => 0);
  }

  static async start(port: number, upstreams: number[]): Promise<RoundRobin> {
    let balancer: RoundRobin | undefined;
    const server = createServer((client) => balancer?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    balancer = new RoundRobin(server, port, upstreams);
    return balancer;
  }

  private accept(client: Socket): void {
    const index = this.next++ % this.upstreams.length;
    this.connections[index]!++;
    const upstream = connect(this.upstreams[index]!, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
