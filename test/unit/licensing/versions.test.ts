import { describe, expect, it } from 'vitest';
import { Reason } from '../../../src/licensing/reasons.js';
import { INVALID_VERSION_CONSTRAINT, latestVersion, resolveVersions } from '../../../src/licensing/versions.js';

/** A catalogue listed out of order, with prereleases, to exercise sorting and prerelease rules. */
const CATALOGUE = ['3.1.0', '1.0.0', '2.10.0', '2.0.0', '2.9.0', '2.0.0-rc.1', '2.1.0', '3.0.0-beta.1', '3.0.0', '2.1.1'];

describe('resolveVersions', () => {
  it.each<[string, string[], string[], string[]?]>([
    // exact versions
    ['an exact version in the catalogue', ['2.1.0'], ['2.1.0']],
    ['an exact version missing from the catalogue (tags follow from tagFormat)', ['9.9.9'], ['9.9.9']],
    ['an exact prerelease', ['2.0.0-rc.1'], ['2.0.0-rc.1']],
    ['an exact version with a leading v, normalised', ['v2.1.0'], ['2.1.0']],
    ['an exact version with surrounding spaces', ['  2.1.0 '], ['2.1.0']],
    // "*": everything, prereleases included
    ['"*"', ['*'], ['1.0.0', '2.0.0-rc.1', '2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0', '3.0.0-beta.1', '3.0.0', '3.1.0']],
    ['" * " with spaces', [' * '], ['1.0.0', '2.0.0-rc.1', '2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0', '3.0.0-beta.1', '3.0.0', '3.1.0']],
    // ranges: node-semver rules, prereleases excluded unless named
    ['a comparator pair', ['>=2.1.0 <3.0.0'], ['2.1.0', '2.1.1', '2.9.0', '2.10.0']],
    ['a caret range', ['^2.1.0'], ['2.1.0', '2.1.1', '2.9.0', '2.10.0']],
    ['a caret on a partial version', ['^2'], ['2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0']],
    ['a tilde range', ['~2.1.0'], ['2.1.0', '2.1.1']],
    ['a tilde on a partial version', ['~2.1'], ['2.1.0', '2.1.1']],
    ['an x-range', ['2.x'], ['2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0']],
    ['an or-range', ['2.x || 3.1.0'], ['2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0', '3.1.0']],
    ['a hyphen range', ['2.1.0 - 2.9.0'], ['2.1.0', '2.1.1', '2.9.0']],
    ['a hyphen range with a partial upper bound (inclusive of the whole minor)', ['1.0.0 - 2.1'], ['1.0.0', '2.0.0', '2.1.0', '2.1.1']],
    ['a range naming a prerelease of the same version', ['>=3.0.0-beta.0 <3.1.0'], ['3.0.0-beta.1', '3.0.0']],
    ['"x" is a range: no prereleases, unlike "*"', ['x'], ['1.0.0', '2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0', '3.0.0', '3.1.0']],
    ['a range matching nothing', ['>=4.0.0'], []],
    // combinations
    ['several entries are unioned without duplicates', ['2.1.0', '~2.1', '^2.1.0'], ['2.1.0', '2.1.1', '2.9.0', '2.10.0']],
    ['exact and range entries together', ['9.9.9', '<2.0.0'], ['1.0.0', '9.9.9']],
    // revocation
    ['revoked versions are subtracted from ranges', ['^2.0.0'], ['2.0.0', '2.1.0', '2.10.0'], ['2.1.1', '2.9.0']],
    ['revoked versions are subtracted from exact versions', ['2.1.0', '9.9.9'], ['2.1.0'], ['9.9.9']],
    ['revoked versions are subtracted from "*"', ['*'], ['1.0.0', '2.0.0', '2.1.0', '2.1.1', '2.9.0', '2.10.0', '3.0.0', '3.1.0'], ['2.0.0-rc.1', '3.0.0-beta.1']],
    ['revoking a version that is not granted changes nothing', ['~2.1'], ['2.1.0', '2.1.1'], ['3.0.0']],
    ['revoking everything leaves nothing', ['2.1.0'], [], ['2.1.0']],
  ])('%s', (_name, constraints, expected, revoked = []) => {
    expect(resolveVersions(constraints, CATALOGUE, revoked)).toEqual({ ok: true, versions: expected });
  });

  it('sorts by semver precedence, not by text: 2.9.0 before 2.10.0, a prerelease before its release', () => {
    const result = resolveVersions(['10.0.0', '*'], ['2.10.0', '2.9.0', '2.0.0', '2.0.0-rc.1', '2.0.0-alpha', '1.10.0']);
    expect(result).toEqual({ ok: true, versions: ['1.10.0', '2.0.0-alpha', '2.0.0-rc.1', '2.0.0', '2.9.0', '2.10.0', '10.0.0'] });
  });

  it('resolves against an empty catalogue: exact versions only', () => {
    expect(resolveVersions(['2.0.0', '*', '^2.0.0'], [])).toEqual({ ok: true, versions: ['2.0.0'] });
  });

  it('defaults to revoking nothing', () => {
    expect(resolveVersions(['2.1.0'], CATALOGUE)).toEqual({ ok: true, versions: ['2.1.0'] });
  });

  it.each([['latest'], ['not-a-range'], ['1.2.3-01'], ['>=>1.0.0'], ['1.2.3.4']])(
    '%j is a value error naming the entry, not an exception',
    (bad) => {
      const result = resolveVersions(['2.1.0', bad], CATALOGUE);
      expect(result).toEqual({ ok: false, reason: INVALID_VERSION_CONSTRAINT, message: expect.stringContaining(`"${bad}"`) });
    },
  );

  it('reports the invalid-constraint reason the License condition carries', () => {
    expect(INVALID_VERSION_CONSTRAINT).toBe(Reason.InvalidVersionConstraint);
  });

  it('does not modify its inputs', () => {
    const catalogue = [...CATALOGUE];
    const constraints = ['*'];
    const revoked = ['2.1.0'];
    resolveVersions(constraints, catalogue, revoked);
    expect(catalogue).toEqual(CATALOGUE);
    expect(constraints).toEqual(['*']);
    expect(revoked).toEqual(['2.1.0']);
  });
});

describe('latestVersion', () => {
  it.each<[string[], string | undefined]>([
    [CATALOGUE, '3.1.0'],
    [['2.9.0', '2.10.0'], '2.10.0'],
    [['3.0.0-rc.1', '2.9.0'], '3.0.0-rc.1'],
    [['3.0.0-rc.1', '3.0.0'], '3.0.0'],
    [['not-a-version', '1.0.0'], '1.0.0'],
    [[], undefined],
  ])('of %j is %j', (catalogue, expected) => {
    const copy = [...catalogue];
    expect(latestVersion(catalogue)).toBe(expected);
    expect(catalogue).toEqual(copy);
  });
});
