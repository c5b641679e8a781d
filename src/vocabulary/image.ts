/**
 * Image references as the container runtime reads them. The same rules are written in CEL
 * for the admission policy; a differential test holds the two together.
 */

/** A parsed image reference. */
export interface ImageReference {
  /** Normalised repository: registry host, then path; docker.io/library/ filled in. */
  repository: string;
  /** The tag, "latest" when neither tag nor digest is given; undefined with a digest only. */
  tag: string | undefined;
  /** The digest (sha256:…), which decides over the tag when both are given. */
  digest: string | undefined;
}

export const DEFAULT_REGISTRY = 'docker.io';

/**
 * Normalises a repository: "nginx" → docker.io/library/nginx, "acme/api" →
 * docker.io/acme/api. The first path part is a registry host only if it holds "." or ":"
 * or is "localhost"; "index.docker.io" is docker.io.
 */
export function normalizeRepository(repository: string): string {
  const slash = repository.indexOf('/');
  const first = slash === -1 ? '' : repository.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  let host = hasHost ? first : DEFAULT_REGISTRY;
  let path = hasHost ? repository.slice(slash + 1) : repository;
  if (host === 'index.docker.io') host = DEFAULT_REGISTRY;
  if (host === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  return `${host}/${path}`;
}

/** Parses `name[:tag][@digest]`: the tag is after the last ":" only if that follows the last "/". */
export function parseImageReference(reference: string): ImageReference {
  const at = reference.indexOf('@');
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const named = at === -1 ? reference : reference.slice(0, at);
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const repository = normalizeRepository(hasTag ? named.slice(0, colon) : named);
  const tag = hasTag ? named.slice(colon + 1) : digest === undefined ? 'latest' : undefined;
  return { repository, tag, digest };
}
