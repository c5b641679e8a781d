/**
 * The registry gate's HTTP(S) server: the pull side of the OCI distribution API in front of
 * the vendor's registry. Every request is authenticated with per-license Basic credentials,
 * parsed strictly, decided by the pure rules in authorize.ts against what the license grants
 * at this instant, and only then forwarded upstream with the vendor's credentials. Blob bodies
 * stream through; manifests (small, bounded) are read whole because the gate learns from them
 * which blobs they reference.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import {
  authorizeBlob,
  authorizeManifest,
  authorizeRepository,
  catalog,
  filterTags,
  GateReason,
  manifestFacts,
  paginate,
  type Verdict,
} from './authorize.js';
import type { UpstreamKnowledge } from './knowledge.js';
import type { GateMetrics } from './metrics.js';
import { parseRegistryRequest, type OciErrorCode, type Reference, type Route } from './path.js';
import { header, UpstreamError, type Upstream, type UpstreamCredentials, type UpstreamResponse } from './upstream.js';
import { GateView, type LicenseAccess } from './view.js';

/** Every manifest media type the gate asks the upstream for when it resolves a tag itself. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
/** Largest manifest the gate reads (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Upstream requests one learning pass runs at once. */
const LEARN_CONCURRENCY = 8;
const REALM = 'licensegate';
/** Response headers passed on from upstream; nothing else (no upstream auth challenges, no Location). */
const PASSED_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'docker-content-digest', 'etag', 'last-modified', 'cache-control'];

export interface GateDeps {
  view: GateView;
  upstream: Upstream;
  knowledge: UpstreamKnowledge;
  metrics: GateMetrics;
  clock: () => Date;
  log: Logger;
  /** Page size asked of the upstream's tag lists (`n`); default 1000. */
  upstreamTagPageSize?: number;
}

type Answer = { route: string; verdict: string };

class OciError extends Error {
  constructor(readonly status: number, readonly code: OciErrorCode | 'UNAVAILABLE' | 'RANGE_INVALID' | 'UNKNOWN', message: string, readonly reason: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The request handler; never throws, never leaves a request unanswered. */
export function gateHandler(deps: GateDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const learner = new Learner(deps);
  return (req, res) => {
    const answer: Answer = { route: 'other', verdict: GateReason.MalformedRequest };
    void handle(deps, learner, req, res, answer)
      .catch((error: unknown) => {
        if (error instanceof OciError) {
          answer.verdict = error.reason;
          sendError(res, error.status, error.code, error.message, error.headers);
          return;
        }
        if ((error as Error).name === 'AbortError' || res.destroyed) return;
        deps.log.error({ err: error, url: req.url?.slice(0, 300) }, 'gate request failed');
        answer.verdict = 'InternalError';
        sendError(res, 500, 'UNKNOWN', 'internal error in the registry gate');
      })
      .finally(() => deps.metrics.requests.inc({ route: answer.route, verdict: answer.verdict }));
  };
}

async function handle(deps: GateDeps, learner: Learner, req: IncomingMessage, res: ServerResponse, answer: Answer): Promise<void> {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  const credentials = parseBasic(req.headers.authorization);
  const license = credentials && deps.view.authenticate(credentials.username, credentials.password);
  if (!license) {
    throw new OciError(401, 'UNAUTHORIZED', 'authentication required: use the credentials of your licensegate pull secret (username: the license)', GateReason.Unauthenticated, {
      'WWW-Authenticate': `Basic realm="${REALM}"`,
    });
  }
  const parsed = parseRegistryRequest(req.method ?? '', req.url ?? '');
  if (!parsed.ok) throw new OciError(parsed.status, parsed.code, parsed.message, parsed.status === 405 ? GateReason.WriteRefused : GateReason.MalformedRequest);
  const route = parsed.route;
  answer.route = route.kind;
  const access = deps.view.access(license, deps.clock());
  if (!access) throw new OciError(403, 'DENIED', `license ${license} does not exist`, GateReason.LicenseNotPulling);
  const head = req.method === 'HEAD';
  const abort = new AbortController();
  res.once('close', () => abort.abort());

  switch (route.kind) {
    case 'base':
      answer.verdict = GateReason.Allowed;
      return sendJson(res, 200, {}, head);
    case 'catalog': {
      const { page, more } = paginate(catalog(access.grant), route.n, route.last);
      if (more) res.setHeader('Link', `</v2/_catalog?n=${route.n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`);
      answer.verdict = GateReason.Allowed;
      return sendJson(res, 200, { repositories: page }, head);
    }
    case 'tags':
      return tags(deps, access, route, res, head, abort.signal, answer);
    case 'manifest':
      return manifest(deps, learner, access, route.repository, route.reference, req, res, head, abort.signal, answer);
    case 'blob':
      return blob(deps, learner, access, route.repository, route.digest, req, res, head, abort.signal, answer);
  }
}

function refuse(verdict: Verdict): never {
  if (verdict.allowed) throw new Error('refuse() called with an allowing verdict');
  throw new OciError(verdict.status, verdict.code, verdict.message, verdict.reason);
}

/** An upstream the gate can talk to for a license. */
interface Reachable {
  server: string;
  credentials: UpstreamCredentials | undefined;
}

function target(access: LicenseAccess): Reachable {
  if (!access.upstream.ok) {
    throw new OciError(502, 'UNAVAILABLE', 'the registry gate is not set up for this application\'s upstream registry; the vendor has been told (gate log)', GateReason.UpstreamUnavailable);
  }
  return { server: access.upstream.server, credentials: access.upstream.credentials };
}

async function tags(deps: GateDeps, access: LicenseAccess, route: Extract<Route, { kind: 'tags' }>, res: ServerResponse, head: boolean, signal: AbortSignal, answer: Answer): Promise<void> {
  const verdict = authorizeRepository(access.grant, route.repository);
  if (!verdict.allowed) refuse(verdict);
  const up = upstreamOrLog(deps, access);
  const upstreamTags = await upstreamTagList(deps, up, route.repository, signal);
  const { page, more } = paginate(filterTags(access.grant, route.repository, upstreamTags), route.n, route.last);
  if (more) res.setHeader('Link', `</v2/${route.repository}/tags/list?n=${route.n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`);
  answer.verdict = GateReason.Allowed;
  sendJson(res, 200, { name: route.repository, tags: page }, head);
}

/** Most pages of an upstream tag list the gate follows (registries page at 100 or 1000 tags). */
const MAX_TAG_PAGES = 50;

/** Every tag of `repository` upstream, following the registry's Link pagination on the same path only. */
async function upstreamTagList(deps: GateDeps, up: Reachable, repository: string, signal: AbortSignal): Promise<string[]> {
  const base = `/v2/${repository}/tags/list`;
  const tags: string[] = [];
  let path: string | undefined = `${base}?n=${deps.upstreamTagPageSize ?? 1000}`;
  for (let page = 0; path !== undefined && page < MAX_TAG_PAGES; page++) {
    const current: string = path;
    const r = await timed(deps, 'tags', () => deps.upstream.send(up.server, current, { method: 'GET', repository, credentials: up.credentials, signal }));
    if (r.status === 404) {
      await r.body.dump();
      throw new OciError(404, 'NAME_UNKNOWN', `repository ${repository} not found upstream`, GateReason.UpstreamNotFound);
    }
    await expectOk(r, deps);
    const body = (await readBounded(r, MAX_MANIFEST_BYTES)).toString('utf8');
    try {
      const json = JSON.parse(body) as { tags?: unknown };
      if (Array.isArray(json.tags)) tags.push(...json.tags.filter((t): t is string => typeof t === 'string'));
    } catch {
      throw new OciError(502, 'UNAVAILABLE', 'upstream registry returned an unreadable tag list', GateReason.UpstreamUnavailable);
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(header(r.headers, 'link') ?? '')?.[1];
    // Only a next page of this very list: the upstream does not get to send the gate elsewhere.
    path = next && next.startsWith(`${base}?`) ? next : undefined;
  }
  return tags;
}

async function manifest(
  deps: GateDeps,
  learner: Learner,
  access: LicenseAccess,
  repository: string,
  reference: Reference,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  signal: AbortSignal,
  answer: Answer,
): Promise<void> {
  let verdict = authorizeManifest(access.grant, repository, reference, deps.knowledge.repository(GateView.upstreamRepository(upstreamServer(access), repository)));
  if (!verdict.allowed && verdict.mayLearn) {
    await learner.learn(access, repository, signal);
    verdict = authorizeManifest(access.grant, repository, reference, deps.knowledge.repository(GateView.upstreamRepository(upstreamServer(access), repository)));
  }
  if (!verdict.allowed) refuse(verdict);
  const up = upstreamOrLog(deps, access);
  const repoKey = GateView.upstreamRepository(up.server, repository);
  const ref = reference.tag ?? reference.digest;
  const accept = typeof req.headers.accept === 'string' && req.headers.accept !== '' ? req.headers.accept : MANIFEST_TYPES;
  const r = await timed(deps, 'manifest', () =>
    deps.upstream.send(up.server, `/v2/${repository}/manifests/${ref}`, { method: head ? 'HEAD' : 'GET', headers: { accept }, repository, credentials: up.credentials, signal }),
  );
  if (r.status === 404) {
    await r.body.dump();
    throw new OciError(404, 'MANIFEST_UNKNOWN', `manifest ${ref} of ${repository} not found upstream`, GateReason.UpstreamNotFound);
  }
  await expectOk(r, deps);
  const headers = passedHeaders(r);
  if (head) {
    await r.body.dump();
    const digest = header(r.headers, 'docker-content-digest');
    if (reference.tag && digest) deps.knowledge.recordTag(repoKey, reference.tag, digest);
    answer.verdict = GateReason.Allowed;
    res.writeHead(200, headers).end();
    return;
  }
  const body = await readBounded(r, MAX_MANIFEST_BYTES);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (reference.digest && digest !== reference.digest) {
    throw new OciError(502, 'UNAVAILABLE', `upstream returned content for ${reference.digest} that hashes to ${digest}`, GateReason.UpstreamUnavailable);
  }
  if (reference.tag) deps.knowledge.recordTag(repoKey, reference.tag, digest);
  deps.knowledge.recordManifest(repoKey, digest, manifestFacts(body.toString('utf8'), header(r.headers, 'content-type')));
  answer.verdict = GateReason.Allowed;
  res.writeHead(200, { ...headers, 'content-length': String(body.length), 'docker-content-digest': digest });
  res.end(body);
  deps.metrics.bytesServed.inc({ route: 'manifest' }, body.length);
}

/** A Range header the gate passes on: bytes ranges only, bounded in length; anything else is dropped (the whole blob is served). */
const RANGE = /^bytes=\d{0,19}-\d{0,19}(, ?\d{0,19}-\d{0,19}){0,7}$/;

async function blob(
  deps: GateDeps,
  learner: Learner,
  access: LicenseAccess,
  repository: string,
  digest: string,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  signal: AbortSignal,
  answer: Answer,
): Promise<void> {
  let verdict = authorizeBlob(access.grant, repository, digest, deps.knowledge.repository(GateView.upstreamRepository(upstreamServer(access), repository)));
  if (!verdict.allowed && verdict.mayLearn) {
    await learner.learn(access, repository, signal);
    verdict = authorizeBlob(access.grant, repository, digest, deps.knowledge.repository(GateView.upstreamRepository(upstreamServer(access), repository)));
  }
  if (!verdict.allowed) refuse(verdict);
  const up = upstreamOrLog(deps, access);
  const range = typeof req.headers.range === 'string' && RANGE.test(req.headers.range) ? req.headers.range : undefined;
  const r = await timed(deps, 'blob', () =>
    deps.upstream.send(up.server, `/v2/${repository}/blobs/${digest}`, { method: head ? 'HEAD' : 'GET', headers: range ? { range } : {}, repository, credentials: up.credentials, signal }),
  );
  if (r.status === 404) {
    await r.body.dump();
    throw new OciError(404, 'BLOB_UNKNOWN', `blob ${digest} of ${repository} not found upstream`, GateReason.UpstreamNotFound);
  }
  if (r.status === 416) {
    await r.body.dump();
    const contentRange = header(r.headers, 'content-range');
    throw new OciError(416, 'RANGE_INVALID', `range ${range} is not satisfiable for blob ${digest}`, GateReason.Allowed, contentRange ? { 'Content-Range': contentRange } : {});
  }
  await expectOk(r, deps);
  answer.verdict = GateReason.Allowed;
  res.writeHead(r.status, passedHeaders(r));
  if (head) {
    await r.body.dump();
    res.end();
    return;
  }
  let bytes = 0;
  r.body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  try {
    await pipeline(r.body, res);
  } finally {
    deps.metrics.bytesServed.inc({ route: 'blob' }, bytes);
  }
}

/** The upstream server name, for knowledge keys (the decision does not need credentials). */
function upstreamServer(access: LicenseAccess): string {
  return access.upstream.ok ? access.upstream.server : '';
}

function upstreamOrLog(deps: GateDeps, access: LicenseAccess): Reachable {
  if (!access.upstream.ok) deps.log.error({ license: access.grant.license, problem: access.upstream.message }, 'gate cannot reach upstream for license');
  return target(access);
}

async function timed(deps: GateDeps, route: string, send: () => Promise<UpstreamResponse>): Promise<UpstreamResponse> {
  const started = performance.now();
  try {
    const r = await send();
    deps.metrics.upstreamSeconds.observe({ route, status: `${Math.floor(r.status / 100)}xx` }, (performance.now() - started) / 1000);
    return r;
  } catch (error) {
    deps.metrics.upstreamSeconds.observe({ route, status: 'error' }, (performance.now() - started) / 1000);
    if (error instanceof UpstreamError) throw new OciError(502, 'UNAVAILABLE', error.message, GateReason.UpstreamUnavailable);
    throw error;
  }
}

async function expectOk(r: UpstreamResponse, deps: GateDeps): Promise<void> {
  if (r.status >= 200 && r.status < 300) return;
  await r.body.dump();
  if (r.status === 401 || r.status === 403) {
    deps.log.error({ status: r.status }, 'upstream registry refused the gate\'s credentials');
    throw new OciError(502, 'UNAVAILABLE', 'the upstream registry refused the gate\'s credentials; the vendor has been told (gate log)', GateReason.UpstreamUnavailable);
  }
  throw new OciError(502, 'UNAVAILABLE', `the upstream registry answered HTTP ${r.status}`, GateReason.UpstreamUnavailable);
}

function passedHeaders(r: UpstreamResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = header(r.headers, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

async function readBounded(r: UpstreamResponse, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of r.body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      r.body.destroy();
      throw new OciError(502, 'MANIFEST_INVALID', `upstream manifest larger than ${max} bytes`, GateReason.UpstreamUnavailable);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseBasic(authorization: string | undefined): { username: string; password: string } | undefined {
  if (!authorization || authorization.length > 4096) return undefined;
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon <= 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(head ? undefined : text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/**
 * Learns, for one license and repository, what its granted tags resolve to upstream and what
 * those manifests (and their index children, and the granted catalogue digests) reference.
 * Entries still fresh are skipped, so a repeated refusal costs the upstream nothing; passes
 * for the same license and repository share one run.
 */
class Learner {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: GateDeps) {}

  learn(access: LicenseAccess, repository: string, signal: AbortSignal): Promise<void> {
    const key = `${access.grant.license}\0${repository}`;
    let run = this.running.get(key);
    if (!run) {
      run = this.run(access, repository).finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    // The caller may go away; the pass goes on for whoever asks next.
    return Promise.race([run, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true }))]);
  }

  private async run(access: LicenseAccess, repository: string): Promise<void> {
    const repo = access.grant.repositories.get(repository);
    if (!repo) return;
    const up = target(access);
    const repoKey = GateView.upstreamRepository(up.server, repository);
    const { knowledge } = this.deps;
    const jobs: (() => Promise<void>)[] = [];
    for (const [tag] of repo.tags) {
      const digest = knowledge.freshTagDigest(repoKey, tag);
      if (digest && knowledge.manifest(repoKey, digest)) {
        jobs.push(() => this.children(up, repository, repoKey, digest));
        continue;
      }
      jobs.push(async () => {
        const fetched = await this.fetchManifest(up, repository, repoKey, tag);
        if (fetched) {
          knowledge.recordTag(repoKey, tag, fetched);
          await this.children(up, repository, repoKey, fetched);
        }
      });
    }
    for (const digest of repo.digests) {
      jobs.push(async () => {
        if (!knowledge.manifest(repoKey, digest)) await this.fetchManifest(up, repository, repoKey, digest);
        await this.children(up, repository, repoKey, digest);
      });
    }
    await runLimited(jobs, LEARN_CONCURRENCY);
  }

  /** Reads the children of an index (one level: images; an index of indexes is learned as clients walk it). */
  private async children(up: Reachable, repository: string, repoKey: string, digest: string): Promise<void> {
    for (const child of this.deps.knowledge.manifest(repoKey, digest)?.children ?? []) {
      if (!this.deps.knowledge.manifest(repoKey, child)) await this.fetchManifest(up, repository, repoKey, child);
    }
  }

  /** GETs a manifest, records what it references, returns its digest (undefined when upstream lacks it). */
  private async fetchManifest(up: Reachable, repository: string, repoKey: string, ref: string): Promise<string | undefined> {
    const r = await timed(this.deps, 'learn', () =>
      this.deps.upstream.send(up.server, `/v2/${repository}/manifests/${ref}`, { method: 'GET', headers: { accept: MANIFEST_TYPES }, repository, credentials: up.credentials }),
    );
    if (r.status === 404) {
      await r.body.dump();
      return undefined;
    }
    await expectOk(r, this.deps);
    const body = await readBounded(r, MAX_MANIFEST_BYTES);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (ref.startsWith('sha256:') && digest !== ref) return undefined;
    this.deps.knowledge.recordManifest(repoKey, digest, manifestFacts(body.toString('utf8'), header(r.headers, 'content-type')));
    return digest;
  }
}

async function runLimited(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

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
