/**
 * The registry gate's HTTP(S) server: the pull side of the OCI distribution API in front of
 * the vendor's registry. Every request is authenticated with per-license Basic credentials,
 * parsed strictly, decided by the pure rules in authorize.ts against what the license grants
 * at this instant, and only then forwarded upstream with the vendor's credentials. Blob bodies
 * stream through; manifests (small, bounded) are read whole because the gate learns from them
 * which blobs they reference.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
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
import {
  expectOk,
  MANIFEST_TYPES,
  MAX_MANIFEST_BYTES,
  OciError,
  passedHeaders,
  readBounded,
  timed,
  upstreamOrLog,
  upstreamServer,
  type GateDeps,
  type Reachable,
} from './exchange.js';
import { Learner } from './learner.js';
import { parseRegistryRequest, type Reference, type Route } from './path.js';
import { header } from './upstream.js';
import { GateView, type LicenseAccess } from './view.js';

type Answer = { route: string; verdict: string };

const REALM = 'licensegate';

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

/**
 * Decides with what the gate knows of the repository; when the answer may change with more
 * knowledge (an unseen tag or digest), learns from upstream once and decides again. Refuses
 * (throws) unless allowed.
 */
async function authorizeLearning(
  deps: GateDeps,
  learner: Learner,
  access: LicenseAccess,
  repository: string,
  signal: AbortSignal,
  decide: (known: ReturnType<GateDeps['knowledge']['repository']>) => ReturnType<typeof authorizeManifest>,
): Promise<void> {
  const known = () => deps.knowledge.repository(GateView.upstreamRepository(upstreamServer(access), repository));
  let verdict = decide(known());
  if (!verdict.allowed && verdict.mayLearn) {
    await learner.learn(access, repository, signal);
    verdict = decide(known());
  }
  if (!verdict.allowed) refuse(verdict);
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
  await authorizeLearning(deps, learner, access, repository, signal, (known) => authorizeManifest(access.grant, repository, reference, known));
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
    const digest = header(r.headers, 'docker-content-digest');
    if (reference.tag && digest) deps.knowledge.recordTag(repoKey, reference.tag, digest);
    answer.verdict = GateReason.Allowed;
    // Answer first: the (empty) upstream body is released after, off the client's clock.
    res.writeHead(200, headers).end();
    await r.body.dump();
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

/** Bytes buffered per blob stream before the upstream socket is paused: fewer pause/resume rounds than undici's 64 KiB, still only 12.5 MiB for 50 slow clients at once. */
const BLOB_HIGH_WATER_MARK = 256 * 1024;

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
  await authorizeLearning(deps, learner, access, repository, signal, (known) => authorizeBlob(access.grant, repository, digest, known));
  const up = upstreamOrLog(deps, access);
  const range = typeof req.headers.range === 'string' && RANGE.test(req.headers.range) ? req.headers.range : undefined;
  const r = await timed(deps, 'blob', () =>
    deps.upstream.send(up.server, `/v2/${repository}/blobs/${digest}`, { method: head ? 'HEAD' : 'GET', headers: range ? { range } : {}, repository, credentials: up.credentials, signal, highWaterMark: BLOB_HIGH_WATER_MARK }),
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
    res.end();
    await r.body.dump();
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

