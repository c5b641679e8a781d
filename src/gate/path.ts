/**
 * The pull side of the OCI distribution API, as request routes. Pure: a method and the raw
 * request target in, a route or a refusal out. Anything that is not exactly one of the
 * documented forms is refused here, before authentication data or upstream see it: no
 * percent-encoding (names and references have no character that needs it, so an encoded
 * "/" or "." can only be an attempt to smuggle one), no "..", no empty segments.
 */

/** Repository names as distribution defines them (path components of lowercase alphanumerics and separators). */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Only sha256: the catalogue and every manifest the gate learns speak it. */
export const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** Longest request target accepted; distribution limits names to 255 characters. */
export const MAX_TARGET_LENGTH = 2048;
const MAX_REPOSITORY_LENGTH = 255;

export type Reference = { tag: string; digest?: undefined } | { digest: string; tag?: undefined };

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog'; n: number | undefined; last: string | undefined }
  | { kind: 'tags'; repository: string; n: number | undefined; last: string | undefined }
  | { kind: 'manifest'; repository: string; reference: Reference }
  | { kind: 'blob'; repository: string; digest: string };

/** OCI error codes the gate answers with (distribution spec, plus UNSUPPORTED for writes). */
export type OciErrorCode =
  | 'NAME_INVALID'
  | 'MANIFEST_INVALID'
  | 'DIGEST_INVALID'
  | 'TAG_INVALID'
  | 'UNSUPPORTED'
  | 'DENIED'
  | 'UNAUTHORIZED'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'TOOMANYREQUESTS';

export interface PathRefusal {
  ok: false;
  status: number;
  code: OciErrorCode;
  message: string;
}

export type ParsedRequest = { ok: true; route: Route } | PathRefusal;

const refuse = (status: number, code: OciErrorCode, message: string): PathRefusal => ({ ok: false, status, code, message });

/** The methods a pull uses; everything else (push, delete, …) is refused. */
const READ_METHODS = new Set(['GET', 'HEAD']);

/** Parses `method` and the request target (path and query, as received). */
export function parseRegistryRequest(method: string, target: string): ParsedRequest {
  if (target.length > MAX_TARGET_LENGTH) return refuse(414, 'NAME_INVALID', `request target longer than ${MAX_TARGET_LENGTH} characters`);
  const question = target.indexOf('?');
  const path = question === -1 ? target : target.slice(0, question);
  const query = question === -1 ? '' : target.slice(question + 1);
  if (!path.startsWith('/v2/') && path !== '/v2') return refuse(404, 'NAME_UNKNOWN', 'not a registry API path: it must start with /v2/');
  if (!READ_METHODS.has(method)) {
    return refuse(405, 'UNSUPPORTED', `${method} is refused: this registry gate serves pulls only (GET and HEAD); pushes, deletes and other writes go to the vendor`);
  }
  if (path.includes('%')) return refuse(400, 'NAME_INVALID', 'percent-encoded characters are not allowed in registry paths');
  if (path === '/v2' || path === '/v2/') return { ok: true, route: { kind: 'base' } };
  const rest = path.slice('/v2/'.length);
  if (rest === '_catalog') {
    const page = pagination(query);
    return page.ok ? { ok: true, route: { kind: 'catalog', ...page.value } } : page;
  }
  const segments = rest.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return refuse(400, 'NAME_INVALID', 'empty, "." and ".." path segments are not allowed');

  // The last two segments decide, as in distribution's router: a repository may itself have
  // a component named "manifests" or "blobs".
  const last = segments[segments.length - 1]!;
  const kind = segments[segments.length - 2];
  const repository = segments.slice(0, -2).join('/');
  if (segments.length < 3 || (kind !== 'manifests' && kind !== 'blobs' && kind !== 'tags')) {
    return refuse(404, 'NAME_UNKNOWN', 'unknown registry API path; the gate serves /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>, /v2/<name>/tags/list and /v2/_catalog');
  }
  if (repository.length > MAX_REPOSITORY_LENGTH || !REPOSITORY.test(repository)) {
    return refuse(400, 'NAME_INVALID', `invalid repository name "${clip(repository)}": lowercase path components separated by "/", ".", "_" or "-"`);
  }
  if (kind === 'tags') {
    if (last !== 'list') return refuse(404, 'NAME_UNKNOWN', 'the tags endpoint is /v2/<name>/tags/list');
    const page = pagination(query);
    return page.ok ? { ok: true, route: { kind: 'tags', repository, ...page.value } } : page;
  }
  if (kind === 'blobs') {
    if (!DIGEST.test(last)) return refuse(400, 'DIGEST_INVALID', `invalid blob digest "${clip(last)}": expected sha256: and 64 lowercase hex digits`);
    return { ok: true, route: { kind: 'blob', repository, digest: last } };
  }
  if (last.includes(':')) {
    if (!DIGEST.test(last)) return refuse(400, 'DIGEST_INVALID', `invalid manifest digest "${clip(last)}": expected sha256: and 64 lowercase hex digits`);
    return { ok: true, route: { kind: 'manifest', repository, reference: { digest: last } } };
  }
  if (!TAG.test(last)) return refuse(400, 'TAG_INVALID', `invalid tag "${clip(last)}": letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"`);
  return { ok: true, route: { kind: 'manifest', repository, reference: { tag: last } } };
}

/** `n` and `last` of a paginated list; other parameters are ignored, as distribution does. */
function pagination(query: string): { ok: true; value: { n: number | undefined; last: string | undefined } } | PathRefusal {
  const params = new URLSearchParams(query);
  const rawN = params.get('n');
  let n: number | undefined;
  if (rawN !== null) {
    if (!/^[0-9]{1,6}$/.test(rawN)) return refuse(400, 'UNSUPPORTED', `invalid page size n=${clip(rawN)}: a whole number`);
    n = Number(rawN);
  }
  const last = params.get('last') ?? undefined;
  return { ok: true, value: { n, last: last === undefined ? undefined : last.slice(0, 256) } };
}

/** Echoed input is clipped so that an error body never grows with the attack. */
const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
