/**
 * The gate's client for the vendor's upstream registry: undici with kept-alive connections,
 * redirects followed server-side (blob storage often answers with one; undici drops the
 * Authorization header when a redirect leaves the origin), and the vendor's credentials sent
 * as Basic auth, or traded for a Bearer token when the registry asks for one (token auth, as
 * Docker Hub, Harbor or GHCR do). The credentials never appear in a response to a client.
 */
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { V1Secret } from '@kubernetes/client-node';

export interface UpstreamCredentials {
  username: string;
  password: string;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface UpstreamOptions {
  /** Hosts spoken to over plain HTTP (loopback test registries); every other host over HTTPS. */
  plainHttpHosts?: ReadonlySet<string>;
  /** Time to the response headers. Default 30 s. */
  headersTimeoutMs?: number;
  /** Longest silence while a body streams. Default 60 s. */
  bodyTimeoutMs?: number;
  /** Kept-alive connections per upstream origin. Default 64. */
  connections?: number;
}

/** An upstream that could not be reached or failed: the gate answers 502 with this message. */
export class UpstreamError extends Error {}

interface Token {
  value: string;
  until: number;
}

export class Upstream {
  private readonly dispatcher: Dispatcher;
  private readonly plain: ReadonlySet<string>;
  private readonly tokens = new Map<string, Token>();

  constructor(options: UpstreamOptions = {}) {
    this.plain = options.plainHttpHosts ?? new Set();
    this.dispatcher = new Agent({
      connections: options.connections ?? 64,
      keepAliveTimeout: 30_000,
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    }).compose(interceptors.redirect({ maxRedirections: 3 }));
  }

  /**
   * Sends `method path` (path under the host, starting with /v2/) to `server` with the vendor's
   * credentials. The caller must consume or dump the body.
   */
  async send(
    server: string,
    path: string,
    init: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; repository?: string; credentials: UpstreamCredentials | undefined; signal?: AbortSignal; highWaterMark?: number },
  ): Promise<UpstreamResponse> {
    const tokenKey = `${server}\0${init.repository ?? ''}\0${init.credentials?.username ?? ''}`;
    const cached = this.tokens.get(tokenKey);
    const auth = cached && cached.until > Date.now() ? `Bearer ${cached.value}` : basic(init.credentials);
    let response = await this.raw(server, path, init.method, { ...init.headers, ...(auth ? { authorization: auth } : {}) }, init.signal, init.highWaterMark);
    if (response.status !== 401) return response;
    const challenge = header(response.headers, 'www-authenticate') ?? '';
    if (!/^bearer /i.test(challenge)) return response;
    await response.body.dump();
    const token = await this.fetchToken(challenge, init.credentials, init.signal);
    this.tokens.set(tokenKey, token);
    response = await this.raw(server, path, init.method, { ...init.headers, authorization: `Bearer ${token.value}` }, init.signal, init.highWaterMark);
    return response;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private url(server: string, path: string): string {
    return `${this.plain.has(server) ? 'http' : 'https'}://${server}${path}`;
  }

  private async raw(server: string, path: string, method: 'GET' | 'HEAD', headers: Record<string, string>, signal?: AbortSignal, highWaterMark?: number): Promise<UpstreamResponse> {
    try {
      const r = await request(this.url(server, path), { method, headers, dispatcher: this.dispatcher, signal, ...(highWaterMark ? { highWaterMark } : {}) });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new UpstreamError(`upstream registry ${server} is unreachable: ${(error as Error).message}`);
    }
  }

  /** Docker token auth: GET realm?service=…&scope=… with Basic credentials. */
  private async fetchToken(challenge: string, credentials: UpstreamCredentials | undefined, signal?: AbortSignal): Promise<Token> {
    const params = Object.fromEntries([...challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) throw new UpstreamError('upstream registry asked for a token without naming a realm');
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const auth = basic(credentials);
    let r: Dispatcher.ResponseData;
    try {
      r = await request(url, { method: 'GET', headers: auth ? { authorization: auth } : {}, dispatcher: this.dispatcher, signal });
    } catch (error) {
      throw new UpstreamError(`upstream token service ${url.host} is unreachable: ${(error as Error).message}`);
    }
    if (r.statusCode !== 200) {
      await r.body.dump();
      throw new UpstreamError(`upstream token service ${url.host} refused the gate's credentials (HTTP ${r.statusCode})`);
    }
    const json = (await r.body.json()) as { token?: string; access_token?: string; expires_in?: number };
    const value = json.token ?? json.access_token;
    if (!value) throw new UpstreamError(`upstream token service ${url.host} returned no token`);
    const lifetimeS = Math.max(30, json.expires_in ?? 60);
    return { value, until: Date.now() + (lifetimeS - 10) * 1000 };
  }
}

const basic = (c: UpstreamCredentials | undefined) => (c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined);

export function header(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The vendor's credentials for `server` from a credentials Secret: kubernetes.io/basic-auth
 * (username, password) or kubernetes.io/dockerconfigjson (the entry for `server`).
 */
export function upstreamCredentials(secret: V1Secret, server: string): { ok: true; credentials: UpstreamCredentials } | { ok: false; message: string } {
  const data = secret.data ?? {};
  const text = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));
  if (secret.type === 'kubernetes.io/basic-auth') {
    const username = text(data.username);
    const password = text(data.password);
    return username && password ? { ok: true, credentials: { username, password } } : { ok: false, message: 'basic-auth Secret needs username and password' };
  }
  if (secret.type === 'kubernetes.io/dockerconfigjson') {
    try {
      const config = JSON.parse(text(data['.dockerconfigjson']) ?? '') as { auths?: Record<string, { username?: string; password?: string; auth?: string }> };
      const entry = config.auths?.[server] ?? config.auths?.[`https://${server}`] ?? config.auths?.[`http://${server}`];
      if (!entry) return { ok: false, message: `.dockerconfigjson has no entry for ${server}` };
      if (entry.username && entry.password) return { ok: true, credentials: { username: entry.username, password: entry.password } };
      const decoded = entry.auth ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      if (colon > 0) return { ok: true, credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
      return { ok: false, message: `.dockerconfigjson entry for ${server} has no username and password` };
    } catch {
      return { ok: false, message: '.dockerconfigjson is not valid JSON' };
    }
  }
  return { ok: false, message: `has type ${secret.type ?? '(none)'}; use kubernetes.io/basic-auth or kubernetes.io/dockerconfigjson` };
}
