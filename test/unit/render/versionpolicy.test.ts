import { describe, expect, it } from 'vitest';
import { API_VERSION, VERSION_POLICY_NAME, type AdmissionMode, type Application } from '../../../src/api/index.js';
import { CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../../../src/vocabulary/labels.js';
import { renderVersionPolicy, tagFor, type Grant } from '../../../src/render/versionpolicy.js';
import { REGISTRY, application, digest } from '../fixtures.js';

const API = `${REGISTRY}/analytics/api`;
const WORKER = `${REGISTRY}/analytics/worker`;
const PROXY = `${REGISTRY}/gateway/proxy`;

const analytics = application('analytics', {
  images: [API, WORKER],
  tagFormat: 'v{version}',
  versions: [
    { version: '2.4.0' },
    { version: '2.4.1', digests: { [API]: digest('1'), [WORKER]: digest('2') } },
    { version: '2.5.0', digests: { [API]: digest('3') } },
    { version: '2.9.0' },
    { version: '2.10.0', digests: { [API]: digest('4'), [WORKER]: digest('5') } },
  ],
});
const gateway = application('gateway', { images: [PROXY], versions: [{ version: '1.0.0' }, { version: '1.1.0' }] });
const web = application('web', {
  images: ['nginx', 'index.docker.io/acme/web'],
  versions: [{ version: '1.25.0', digests: { nginx: digest('6') } }],
});

function render(grants: Grant[], applications: Application[] = [analytics, gateway, web], admission: AdmissionMode = 'Deny') {
  return renderVersionPolicy({ namespace: 'globex-prod', customer: 'globex', admission, applications, grants });
}

const EMPTY = { allowedTags: [], allowedDigests: [], licenses: [] };

describe('renderVersionPolicy', () => {
  it('is the one VersionPolicy of the namespace, labelled as owned', () => {
    const policy = render([], [analytics], 'Warn');
    expect(policy.apiVersion).toBe(API_VERSION);
    expect(policy.kind).toBe('VersionPolicy');
    expect(policy.metadata).toEqual({
      name: VERSION_POLICY_NAME,
      namespace: 'globex-prod',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CUSTOMER_LABEL]: 'globex' },
    });
    expect(policy.spec.customer).toBe('globex');
    expect(policy.spec.admission).toBe('Warn');
  });

  it('gates every repository of every Application, even with no grant at all', () => {
    expect(render([]).spec.repositories).toEqual({
      'docker.io/acme/web': EMPTY,
      'docker.io/library/nginx': EMPTY,
      [API]: EMPTY,
      [WORKER]: EMPTY,
      [PROXY]: EMPTY,
    });
  });

  it('gates applications the customer holds no license for next to the granted ones', () => {
    const repos = render([{ license: 'globex-gateway', application: 'gateway', versions: ['1.0.0'] }]).spec.repositories;
    expect(repos[PROXY]).toEqual({ allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['globex-gateway'] });
    expect(repos[API]).toEqual(EMPTY);
    expect(repos['docker.io/library/nginx']).toEqual(EMPTY);
  });

  it('maps versions to tags through tagFormat and adds the catalogue digests of granted versions only', () => {
    const repos = render([{ license: 'globex-analytics', application: 'analytics', versions: ['2.4.1', '2.5.0'] }]).spec.repositories;
    expect(repos[API]).toEqual({
      allowedTags: ['v2.4.1', 'v2.5.0'],
      allowedDigests: [digest('1'), digest('3')],
      licenses: ['globex-analytics'],
    });
    expect(repos[WORKER]).toEqual({ allowedTags: ['v2.4.1', 'v2.5.0'], allowedDigests: [digest('2')], licenses: ['globex-analytics'] });
  });

  it('grants the tag of a version missing from the catalogue, without a digest', () => {
    const repos = render([{ license: 'l', application: 'analytics', versions: ['9.9.9'] }]).spec.repositories;
    expect(repos[API]).toEqual({ allowedTags: ['v9.9.9'], allowedDigests: [], licenses: ['l'] });
  });

  it('normalises repository keys and finds digests listed under the spec.images spelling', () => {
    const repos = render([{ license: 'globex-web', application: 'web', versions: ['1.25.0'] }]).spec.repositories;
    expect(Object.keys(repos)).not.toContain('nginx');
    expect(Object.keys(repos)).not.toContain('index.docker.io/acme/web');
    expect(repos['docker.io/library/nginx']).toEqual({ allowedTags: ['1.25.0'], allowedDigests: [digest('6')], licenses: ['globex-web'] });
    expect(repos['docker.io/acme/web']).toEqual({ allowedTags: ['1.25.0'], allowedDigests: [], licenses: ['globex-web'] });
  });

  it('sorts repositories by name and tags in version order (v2.9.0 before v2.10.0)', () => {
    const policy = render([{ license: 'l', application: 'analytics', versions: ['2.10.0', '2.4.0', '2.9.0', '2.4.1'] }]);
    expect(Object.keys(policy.spec.repositories)).toEqual(['docker.io/acme/web', 'docker.io/library/nginx', API, WORKER, PROXY]);
    expect(policy.spec.repositories[API]?.allowedTags).toEqual(['v2.4.0', 'v2.4.1', 'v2.9.0', 'v2.10.0']);
    expect(policy.spec.repositories[API]?.allowedDigests).toEqual([digest('1'), digest('4')]);
  });

  it('orders prerelease tags before their release', () => {
    const app = application('beta', { versions: [{ version: '3.0.0-rc.2' }, { version: '3.0.0-rc.10' }, { version: '3.0.0' }] });
    const repos = render([{ license: 'l', application: 'beta', versions: ['3.0.0', '3.0.0-rc.10', '3.0.0-rc.2'] }], [app]).spec.repositories;
    expect(repos[`${REGISTRY}/beta/api`]?.allowedTags).toEqual(['3.0.0-rc.2', '3.0.0-rc.10', '3.0.0']);
  });

  it('merges two licenses for the same application: union of tags and digests, both licenses named', () => {
    const repos = render([
      { license: 'globex-analytics-b', application: 'analytics', versions: ['2.5.0', '2.10.0'] },
      { license: 'globex-analytics-a', application: 'analytics', versions: ['2.4.1', '2.5.0'] },
    ]).spec.repositories;
    expect(repos[API]).toEqual({
      allowedTags: ['v2.4.1', 'v2.5.0', 'v2.10.0'],
      allowedDigests: [digest('1'), digest('3'), digest('4')],
      licenses: ['globex-analytics-a', 'globex-analytics-b'],
    });
  });

  it('merges applications that share a repository', () => {
    const one = application('one', { images: ['nginx'], versions: [] });
    const two = application('two', { images: ['docker.io/library/nginx'], tagFormat: '{version}-alpine', versions: [] });
    const repos = render(
      [
        { license: 'l1', application: 'one', versions: ['1.0.0'] },
        { license: 'l2', application: 'two', versions: ['1.0.0'] },
      ],
      [one, two],
    ).spec.repositories;
    // "1.0.0-alpine" reads as a prerelease of 1.0.0, so it sorts first: order is for determinism only.
    expect(repos).toEqual({ 'docker.io/library/nginx': { allowedTags: ['1.0.0-alpine', '1.0.0'], allowedDigests: [], licenses: ['l1', 'l2'] } });
  });

  it('ignores a grant with no versions and a grant for an unknown application', () => {
    const policy = render([
      { license: 'empty', application: 'analytics', versions: [] },
      { license: 'ghost', application: 'no-such-app', versions: ['1.0.0'] },
    ]);
    expect(policy).toEqual(render([]));
  });

  it('renders deterministically: equal inputs in any order give deep- and byte-equal objects', () => {
    const grants: Grant[] = [
      { license: 'globex-analytics', application: 'analytics', versions: ['2.10.0', '2.4.1'] },
      { license: 'globex-gateway', application: 'gateway', versions: ['1.1.0', '1.0.0'] },
      { license: 'globex-analytics-extra', application: 'analytics', versions: ['2.5.0'] },
    ];
    const a = render(grants, [analytics, gateway, web]);
    const b = render([...grants].reverse().map((g) => ({ ...g, versions: [...g.versions].reverse() })), [web, gateway, analytics]);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(render(grants))).toBe(JSON.stringify(render(grants)));
  });

  it('does not modify its inputs', () => {
    const apps = [analytics, gateway];
    const grants: Grant[] = [{ license: 'l', application: 'analytics', versions: ['2.5.0', '2.4.1'] }];
    const before = structuredClone({ apps, grants });
    render(grants, apps);
    expect({ apps, grants }).toEqual(before);
  });
});

describe('tagFor', () => {
  it.each([
    ['{version}', '2.4.1', '2.4.1'],
    ['v{version}', '2.4.1', 'v2.4.1'],
    ['{version}-alpine', '1.25.0', '1.25.0-alpine'],
    ['release-{version}-{version}', '1.0.0', 'release-1.0.0-1.0.0'],
  ])('%s with %s is %s', (format, version, tag) => {
    expect(tagFor(format, version)).toBe(tag);
  });
});
