import { describe, expect, it } from 'vitest';
import { UpstreamKnowledge } from '../../../src/gate/knowledge.js';
import { upstreamCredentials } from '../../../src/gate/upstream.js';
import { parseListen } from '../../../src/cli/commands/gate.js';
import { digest, NOW, SECOND } from '../fixtures.js';

describe('UpstreamKnowledge', () => {
  it('trusts a tag resolution for the TTL only', () => {
    let now = NOW.getTime();
    const k = new UpstreamKnowledge({ clock: () => new Date(now), tagTtlMs: 30 * SECOND });
    k.recordTag('r/a', 'v1', digest('1'));
    expect(k.repository('r/a').tagDigest('v1')).toBe(digest('1'));
    expect(k.repository('r/b').tagDigest('v1')).toBeUndefined();
    now += 30 * SECOND;
    expect(k.repository('r/a').tagDigest('v1')).toBeUndefined();
  });

  it('indexes blobs and children per repository, and forgets them with an evicted manifest', () => {
    const k = new UpstreamKnowledge({ clock: () => NOW, maxManifests: 2 });
    k.recordManifest('r/a', digest('1'), { mediaType: undefined, children: [], blobs: [digest('a'), digest('b')] });
    k.recordManifest('r/a', digest('2'), { mediaType: undefined, children: [digest('1')], blobs: [] });
    expect(k.repository('r/a').manifestsReferencing(digest('a'))).toEqual([digest('1')]);
    expect(k.repository('r/x').manifestsReferencing(digest('a'))).toEqual([]);
    expect(k.repository('r/a').parentsOf(digest('1'))).toEqual([digest('2')]);
    k.recordManifest('r/a', digest('3'), { mediaType: undefined, children: [], blobs: [digest('c')] });
    expect(k.sizes.manifests).toBe(2);
    expect(k.repository('r/a').manifestsReferencing(digest('a'))).toEqual([]);
    expect(k.repository('r/a').manifestsReferencing(digest('c'))).toEqual([digest('3')]);
  });
});

describe('upstreamCredentials', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  it('reads basic-auth and the server\'s dockerconfigjson entry', () => {
    expect(upstreamCredentials({ type: 'kubernetes.io/basic-auth', data: { username: b64('u'), password: b64('p') } }, 'r.example')).toEqual({ ok: true, credentials: { username: 'u', password: 'p' } });
    const config = { auths: { 'r.example': { auth: b64('u:p:q') } } };
    expect(upstreamCredentials({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify(config)) } }, 'r.example')).toEqual({ ok: true, credentials: { username: 'u', password: 'p:q' } });
    expect(upstreamCredentials({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify(config)) } }, 'other')).toMatchObject({ ok: false });
    expect(upstreamCredentials({ type: 'Opaque', data: {} }, 'r.example')).toMatchObject({ ok: false });
  });
});

describe('parseListen', () => {
  it('takes HOST:PORT and [IPv6]:PORT', () => {
    expect(parseListen('127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['5000', ':5000', '::1:5000', 'host:99999', 'a b:1']) expect(() => parseListen(bad)).toThrow(/HOST:PORT/);
  });
});
