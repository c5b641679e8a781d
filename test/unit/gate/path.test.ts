import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRegistryRequest } from '../../../src/gate/path.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseRegistryRequest', () => {
  it.each([
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog?n=10&last=acme', { kind: 'catalog', n: 10, last: 'acme' }],
    ['/v2/acme/api/tags/list', { kind: 'tags', repository: 'acme/api', n: undefined, last: undefined }],
    ['/v2/acme/api/manifests/1.2.3', { kind: 'manifest', repository: 'acme/api', reference: { tag: '1.2.3' } }],
    [`/v2/acme/api/manifests/${D}`, { kind: 'manifest', repository: 'acme/api', reference: { digest: D } }],
    [`/v2/acme/api/blobs/${D}`, { kind: 'blob', repository: 'acme/api', digest: D }],
    // A repository may have a component named like an endpoint: the last two segments decide.
    ['/v2/acme/manifests/manifests/v1', { kind: 'manifest', repository: 'acme/manifests', reference: { tag: 'v1' } }],
  ])('GET %s', (target, route) => {
    expect(parseRegistryRequest('GET', target)).toEqual({ ok: true, route });
    expect(parseRegistryRequest('HEAD', target)).toEqual({ ok: true, route });
  });

  it.each([
    ['/v2/acme/../secret/manifests/1.0.0', 'NAME_INVALID'],
    ['/v2/acme/%2e%2e/secret/manifests/1.0.0', 'NAME_INVALID'],
    ['/v2/acme%2Fapi/manifests/1.0.0', 'NAME_INVALID'],
    ['/v2/acme//api/manifests/1.0.0', 'NAME_INVALID'],
    ['/v2/Acme/api/manifests/1.0.0', 'NAME_INVALID'],
    ['/v2/acme/api/manifests/-bad', 'TAG_INVALID'],
    ['/v2/acme/api/manifests/sha256:abc', 'DIGEST_INVALID'],
    ['/v2/acme/api/manifests/sha512:' + 'a'.repeat(128), 'DIGEST_INVALID'],
    ['/v2/acme/api/blobs/1.0.0', 'DIGEST_INVALID'],
    ['/v2/acme/api/blobs/uploads/', 'NAME_INVALID'],
    ['/v2/acme/api/tags/all', 'NAME_UNKNOWN'],
    ['/v2/acme/api', 'NAME_UNKNOWN'],
    ['/v1/_ping', 'NAME_UNKNOWN'],
    ['/v2/acme/api/tags/list?n=-1', 'UNSUPPORTED'],
    [`/v2/${'a/'.repeat(1100)}manifests/x`, 'NAME_INVALID'],
  ])('refuses %s (%s)', (target, code) => {
    const parsed = parseRegistryRequest('GET', target);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.code).toBe(code);
  });

  it.each(['PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'get'])('refuses %s as a write', (method) => {
    const parsed = parseRegistryRequest(method, '/v2/acme/api/manifests/1.0.0');
    expect(parsed).toMatchObject({ ok: false, status: 405, code: 'UNSUPPORTED' });
  });

  it('never yields a repository or reference that could escape or smuggle a path (property)', () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '', '%2e%2e', '%2F', 'manifests', 'blobs', 'tags', 'list', '_catalog', D, 'v1.0', 'sha256:', 'a:b', 'A', '~'),
      fc.string({ maxLength: 12 }),
    );
    const target = fc
      .tuple(fc.constantFrom('/v2/', '/v2', '/', '/v2//', ''), fc.array(segment, { maxLength: 8 }), fc.option(fc.string({ maxLength: 20 })))
      .map(([prefix, parts, query]) => prefix + parts.join('/') + (query === null ? '' : `?${query}`));
    const method = fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'BREW', '');
    fc.assert(
      fc.property(method, target, (m, t) => {
        const parsed = parseRegistryRequest(m, t);
        if (!parsed.ok) {
          expect(parsed.status).toBeGreaterThanOrEqual(400);
          expect(parsed.message.length).toBeLessThan(400);
          return;
        }
        expect(['GET', 'HEAD']).toContain(m);
        const route = parsed.route;
        if ('repository' in route) {
          expect(route.repository).toMatch(/^[a-z0-9][a-z0-9._/-]*$/);
          expect(route.repository.split('/')).not.toContain('..');
          expect(route.repository).not.toContain('//');
          expect(route.repository).not.toContain('%');
        }
        if (route.kind === 'blob') expect(route.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
        if (route.kind === 'manifest') {
          const ref = route.reference.tag ?? route.reference.digest!;
          expect(ref).toMatch(/^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
