/** Which catalogue versions a License's `spec.versions` grants. */
import semver from 'semver';

/** The outcome of resolving version constraints against a catalogue. */
export type VersionResolution =
  | { ok: true; versions: string[] }
  | { ok: false; reason: typeof INVALID_VERSION_CONSTRAINT; message: string };

export const INVALID_VERSION_CONSTRAINT = 'InvalidVersionConstraint';

/**
 * Resolves constraints against the catalogue, minus revoked versions, sorted ascending.
 * - an exact version is granted even when the catalogue does not list it (tags follow from
 *   tagFormat; only digests need the catalogue);
 * - a range grants the catalogue versions it matches, with node-semver's rules (a
 *   prerelease matches only a range that names a prerelease of the same version);
 * - "*" grants every catalogue version, prereleases included: it means "everything".
 */
export function resolveVersions(constraints: string[], catalogue: string[], revoked: string[] = []): VersionResolution {
  const granted = new Set<string>();
  for (const raw of constraints) {
    const constraint = raw.trim();
    if (constraint === '*') {
      catalogue.forEach((v) => granted.add(v));
      continue;
    }
    const exact = semver.valid(constraint);
    if (exact) {
      granted.add(exact);
      continue;
    }
    if (semver.validRange(constraint) === null) {
      return {
        ok: false,
        reason: INVALID_VERSION_CONSTRAINT,
        message: `spec.versions entry "${raw}" is not a version or semver range`,
      };
    }
    catalogue.filter((v) => semver.satisfies(v, constraint)).forEach((v) => granted.add(v));
  }
  const revokedSet = new Set(revoked);
  return { ok: true, versions: [...granted].filter((v) => !revokedSet.has(v)).sort(semver.compare) };
}

/** The highest version of a catalogue, if any. */
export function latestVersion(catalogue: string[]): string | undefined {
  return [...catalogue].filter((v) => semver.valid(v)).sort(semver.rcompare)[0];
}
