/**
 * What the gate's routes share when they talk to the upstream: dependencies, OCI errors as
 * exceptions, timing into metrics, bounded reads and the headers passed on to clients.
 */
import type { Logger } from 'pino';
import { GateReason } from './authorize.js';
import type { UpstreamKnowledge } from './knowledge.js';
import type { GateMetrics } from './metrics.js';
import type { OciErrorCode } from './path.js';
import { header, UpstreamError, type Upstream, type UpstreamCredentials, type UpstreamResponse } from './upstream.js';
import type { GateView, LicenseAccess } from './view.js';

/** Every manifest media type the gate asks the upstream for when it resolves a tag itself. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
/** Largest manifest the gate reads (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
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

/** An expected refusal or failure, answered as an OCI error body. */
export class OciError extends Error {
  constructor(readonly status: number, readonly code: OciErrorCode | 'UNAVAILABLE' | 'RANGE_INVALID' | 'UNKNOWN', message: string, readonly reason: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** An upstream the gate can talk to for a license. */
export interface Reachable {
  server: string;
  credentials: UpstreamCredentials | undefined;
}

export function target(access: LicenseAccess): Reachable {
  if (!access.upstream.ok) {
    throw new OciError(502, 'UNAVAILABLE', 'the registry gate is not set up for this application\'s upstream registry; the vendor has been told (gate log)', GateReason.UpstreamUnavailable);
  }
  return { server: access.upstream.server, credentials: access.upstream.credentials };
}

/** The upstream server name, for knowledge keys (the decision does not need credentials). */
export function upstreamServer(access: LicenseAccess): string {
  return access.upstream.ok ? access.upstream.server : '';
}

export function upstreamOrLog(deps: GateDeps, access: LicenseAccess): Reachable {
  if (!access.upstream.ok) deps.log.error({ license: access.grant.license, problem: access.upstream.message }, 'gate cannot reach upstream for license');
  return target(access);
}

export async function timed(deps: GateDeps, route: string, send: () => Promise<UpstreamResponse>): Promise<UpstreamResponse> {
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

export async function expectOk(r: UpstreamResponse, deps: GateDeps): Promise<void> {
  if (r.status >= 200 && r.status < 300) return;
  await r.body.dump();
  if (r.status === 401 || r.status === 403) {
    deps.log.error({ status: r.status }, 'upstream registry refused the gate\'s credentials');
    throw new OciError(502, 'UNAVAILABLE', 'the upstream registry refused the gate\'s credentials; the vendor has been told (gate log)', GateReason.UpstreamUnavailable);
  }
  throw new OciError(502, 'UNAVAILABLE', `the upstream registry answered HTTP ${r.status}`, GateReason.UpstreamUnavailable);
}

export function passedHeaders(r: UpstreamResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = header(r.headers, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export async function readBounded(r: UpstreamResponse, max: number): Promise<Buffer> {
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

