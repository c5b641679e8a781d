/**
 * A TCP proxy in front of the API server that tests can break on purpose: cut every connection
 * (like a restart or a reset), or black-hole them (like a half-open connection: nothing arrives,
 * nothing errors). TLS passes through untouched, so clients verify the real server certificate
 * (its SANs include 127.0.0.1, which is where the proxy listens).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

type Mode = 'pass' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket;
}

/** See the module comment. */
export class FaultProxy {
  private mode: Mode = 'pass';
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    /** `https://127.0.0.1:<port>` */
    readonly url: string,
  ) {}

  /** Starts a proxy in front of the current cluster of `kc` and returns it with a KubeConfig that goes through it. */
  static async start(kc: KubeConfig): Promise<{ proxy: FaultProxy; kc: KubeConfig }> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const target = new URL(cluster.server);
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    const created = new FaultProxy(server, `${target.protocol}//127.0.0.1:${address.port}`);
    proxy = created;

    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: created.url } : c)),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    return { proxy: created, kc: proxied };
  }

  /** Resets every open connection; new ones still work. */
  cut(): void {
    for (const pair of this.pairs) this.destroy(pair);
  }

  /** From now on nothing is forwarded in either direction and nothing is closed: connections hang silently. */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Keep reading so the peers' writes succeed and nothing looks wrong to them.
      client.resume();
      upstream.resume();
    }
  }

  /** Forwards again; connections black-holed meanwhile are reset (their bytes are lost). */
  heal(): void {
    if (this.mode === 'blackhole') this.cut();
    this.mode = 'pass';
  }

  /** Open client connections. */
  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: URL): void {
    const upstream = connect(Number(target.port || 443), target.hostname);
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    // In a black hole the server's side ending (e.g. its watch timeout) must not reach the client either.
    const upstreamGone = () => {
      if (this.mode !== 'blackhole') this.destroy(pair);
    };
    upstream.on('error', upstreamGone);
    upstream.on('close', upstreamGone);
    if (this.mode === 'blackhole') {
      client.resume();
      upstream.resume();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
