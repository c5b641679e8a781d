import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authorizeBlob,
  authorizeManifest,
  authorizeRepository,
  catalog,
  filterTags,
  GateReason,
  manifestFacts,
  paginate,
  type RepositoryKnowledge,
} from '../../../src/gate/authorize.js';
import { registryGrant } from '../../../src/gate/grant.js';
import { evaluateLicense } from '../../../src/licensing/evaluate.js';
import { after, application, DAY, digest, HOUR, iso, license, NOW } from '../fixtures.js';

const GATE = 'gate.acme.example';
const app = application('analytics', {
  images: [`${GATE}/acme/api`, `${GATE}/acme/worker`],
  tagFormat: 'v{version}',
  versions: [
    { version: '1.0.0', digests: { [`${GATE}/acme/api`]: digest('1') } },
    { version: '1.1.0', digests: { [`${GATE}/acme/api`]: digest('2') } },
    { version: '2.0.0', digests: { [`${GATE}/acme/api`]: digest('3') } },
  ],
});

const grantAt = (spec: Parameters<typeof license>[1], now = NOW, l = license('acme-lic', spec)) =>
  registryGrant(l, evaluateLicense(l, { now, application: app, customerExists: true, trialStartedAt: undefined, earlierTrial: undefined, requiredPhases: {} }), app);

/** Knowledge from plain maps. */
function knowledge(tags: Record<string, string> = {}, parents: Record<string, string[]> = {}, blobs: Record<string, string[]> = {}): RepositoryKnowledge {
  return {
    tagDigest: (t) => tags[t],
    parentsOf: (d) => parents[d] ?? [],
    manifestsReferencing: (b) => blobs[b] ?? [],
  };
}
const none = knowledge();

describe('manifests', () => {
  const grant = grantAt({ versions: ['1.x'], revokedVersions: ['1.0.0'] });

  it('by a granted tag', () => {
    expect(authorizeManifest(grant, 'acme/api', { tag: 'v1.1.0' }, none)).toMatchObject({ allowed: true });
    expect(authorizeManifest(grant, 'acme/worker', { tag: 'v1.1.0' }, none)).toMatchObject({ allowed: true });
  });

  it('not by an ungranted, a revoked or an unformatted tag; the refusal says what the license grants', () => {
    for (const tag of ['v2.0.0', 'v1.0.0', '1.1.0', 'latest']) {
      const verdict = authorizeManifest(grant, 'acme/api', { tag }, none);
      expect(verdict).toMatchObject({ allowed: false, reason: GateReason.TagNotGranted, status: 403, code: 'DENIED' });
      if (!verdict.allowed) expect(verdict.message).toContain('license acme-lic grants versions 1.1.0 of application analytics');
    }
  });

  it('not in a repository outside the application', () => {
    expect(authorizeManifest(grant, 'acme/other', { tag: 'v1.1.0' }, none)).toMatchObject({ allowed: false, reason: GateReason.RepositoryNotGranted });
  });

  it('by digest: a granted catalogue digest, what a granted tag resolves to, or a child of such an index', () => {
    expect(authorizeManifest(grant, 'acme/api', { digest: digest('2') }, none)).toMatchObject({ allowed: true, how: 'granted catalogue digest' });
    // Revoked and ungranted catalogue digests are refused.
    for (const d of [digest('1'), digest('3')]) {
      expect(authorizeManifest(grant, 'acme/api', { digest: d }, none)).toMatchObject({ allowed: false, reason: GateReason.DigestNotGranted, mayLearn: true });
    }
    const known = knowledge({ 'v1.1.0': digest('a'), 'v2.0.0': digest('b') }, { [digest('c')]: [digest('a')], [digest('d')]: [digest('b')] });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('a') }, known)).toMatchObject({ allowed: true });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('c') }, known)).toMatchObject({ allowed: true });
    // What an ungranted tag resolves to, and its children, are not granted.
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('b') }, known)).toMatchObject({ allowed: false });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('d') }, known)).toMatchObject({ allowed: false });
  });

  it('index chains are followed only so deep, and cycles end', () => {
    const chain = knowledge({ 'v1.1.0': digest('0') }, { [digest('1')]: [digest('0')], [digest('2')]: [digest('1')], [digest('3')]: [digest('2')], [digest('4')]: [digest('3')] });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('3') }, chain)).toMatchObject({ allowed: true });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('4') }, chain)).toMatchObject({ allowed: false });
    const cycle = knowledge({}, { [digest('1')]: [digest('2')], [digest('2')]: [digest('1')] });
    expect(authorizeManifest(grant, 'acme/worker', { digest: digest('1') }, cycle)).toMatchObject({ allowed: false });
  });
});

describe('blobs', () => {
  const grant = grantAt({ versions: ['1.1.0'] });
  const known = knowledge(
    { 'v1.1.0': digest('a'), 'v2.0.0': digest('b') },
    {},
    { [digest('e')]: [digest('a')], [digest('f')]: [digest('b')], [digest('9')]: [digest('b'), digest('a')], [digest('8')]: [digest('3')] },
  );

  it('only when a manifest the license may pull references them', () => {
    expect(authorizeBlob(grant, 'acme/api', digest('e'), known)).toMatchObject({ allowed: true });
    expect(authorizeBlob(grant, 'acme/api', digest('9'), known)).toMatchObject({ allowed: true });
    expect(authorizeBlob(grant, 'acme/api', digest('f'), known)).toMatchObject({ allowed: false, reason: GateReason.BlobNotReferenced, mayLearn: true });
    // A layer of the ungranted 2.0.0 catalogue digest stays refused.
    expect(authorizeBlob(grant, 'acme/api', digest('8'), known)).toMatchObject({ allowed: false });
    expect(authorizeBlob(grant, 'acme/api', digest('7'), known)).toMatchObject({ allowed: false });
  });
});

describe('the license clock', () => {
  const spec = { versions: ['1.1.0'], expiresAt: iso(after(DAY)), gracePeriod: '2h' };

  it('pulls while active and during grace, nothing after expiry + grace, suspended or pending', () => {
    expect(grantAt(spec).pulling).toBe(true);
    expect(grantAt(spec, after(DAY + HOUR))).toMatchObject({ pulling: true, reason: 'InGracePeriod', versions: ['1.1.0'] });
    const expired = grantAt(spec, after(DAY + 2 * HOUR));
    expect(expired).toMatchObject({ pulling: false, reason: 'Expired' });
    expect(authorizeManifest(expired, 'acme/api', { tag: 'v1.1.0' }, none)).toMatchObject({ allowed: false, reason: GateReason.LicenseNotPulling });
    expect(authorizeBlob(expired, 'acme/api', digest('e'), knowledge({ 'v1.1.0': digest('a') }, {}, { [digest('e')]: [digest('a')] }))).toMatchObject({ allowed: false });
    expect(grantAt({ ...spec, suspended: true })).toMatchObject({ pulling: false, reason: 'Suspended' });
    expect(grantAt({ ...spec, notBefore: iso(after(HOUR)) })).toMatchObject({ pulling: false, reason: 'NotYetValid' });
  });

  it('a status the operator wrote as Invalid for the current generation refuses (signature problems); a stale one does not', () => {
    const invalidStatus = { phase: 'Invalid' as const, observedGeneration: 2, conditions: [{ type: 'Valid', status: 'False' as const, reason: 'BadSignature', message: 'signature does not verify', lastTransitionTime: iso(NOW) }] };
    const current = license('acme-lic', spec, { generation: 2, status: invalidStatus });
    expect(grantAt(spec, NOW, current)).toMatchObject({ pulling: false, message: 'signature does not verify' });
    const stale = license('acme-lic', spec, { generation: 3, status: invalidStatus });
    expect(grantAt(spec, NOW, stale)).toMatchObject({ pulling: true });
  });
});

describe('lists', () => {
  const grant = grantAt({ versions: ['1.0.0', '2.0.0'] });
  it('tags/list keeps granted tags the upstream has; _catalog the application repositories', () => {
    expect(filterTags(grant, 'acme/api', ['v2.0.0', 'v1.0.0', 'v1.1.0', 'latest', 'v1.0.0'])).toEqual(['v1.0.0', 'v2.0.0']);
    expect(filterTags(grant, 'acme/other', ['v1.0.0'])).toEqual([]);
    expect(catalog(grant)).toEqual(['acme/api', 'acme/worker']);
    expect(catalog(grantAt({ versions: ['1.0.0'], suspended: true }))).toEqual([]);
    expect(authorizeRepository(grant, 'acme/other')).toMatchObject({ allowed: false });
  });
  it('paginates like distribution', () => {
    expect(paginate(['a', 'b', 'c'], 2, undefined)).toEqual({ page: ['a', 'b'], more: true });
    expect(paginate(['a', 'b', 'c'], 2, 'b')).toEqual({ page: ['c'], more: false });
  });
});

describe('manifestFacts', () => {
  it('reads index children and image blobs; ignores junk', () => {
    const index = JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: digest('1') }, { digest: 'sha256:bad' }] });
    expect(manifestFacts(index, undefined)).toEqual({ mediaType: 'application/vnd.oci.image.index.v1+json', children: [digest('1')], blobs: [] });
    const image = JSON.stringify({ config: { digest: digest('2') }, layers: [{ digest: digest('3') }, null, 7] });
    expect(manifestFacts(image, 'x')).toEqual({ mediaType: 'x', children: [], blobs: [digest('2'), digest('3')] });
    fc.assert(fc.property(fc.string(), (s) => {
      const facts = manifestFacts(s, undefined);
      for (const d of [...facts.children, ...facts.blobs]) expect(d).toMatch(/^sha256:[a-f0-9]{64}$/);
    }));
  });
});
