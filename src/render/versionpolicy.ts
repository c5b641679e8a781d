/** The VersionPolicy of a customer namespace: every gated repository and what is granted there. */
import semver from 'semver';
import {
  API_VERSION,
  VERSION_POLICY_NAME,
  type AdmissionMode,
  type Application,
  type RepositoryGrant,
  type VersionPolicy,
} from '../api/index.js';
import { normalizeRepository } from '../vocabulary/image.js';
import { ownedLabels } from '../vocabulary/labels.js';

/** One license's grant, as the policy needs it. */
export interface Grant {
  license: string;
  application: string;
  versions: string[];
}

/** The image tag of `version` under an application's tagFormat. */
export function tagFor(tagFormat: string, version: string): string {
  return tagFormat.replaceAll('{version}', version);
}

/**
 * Compiles the policy: every repository of every Application is gated (an application the
 * customer holds no license for is gated with nothing granted); each grant adds its tags,
 * the catalogue's digests and its license name. Lists are sorted so equal inputs render
 * byte-equal objects.
 */
export function renderVersionPolicy(args: {
  namespace: string;
  customer: string;
  admission: AdmissionMode;
  applications: Application[];
  grants: Grant[];
}): VersionPolicy {
  const repositories: Record<string, RepositoryGrant> = {};
  const entry = (repo: string) => (repositories[repo] ??= { allowedTags: [], allowedDigests: [], licenses: [] });
  for (const app of args.applications) for (const image of app.spec.images) entry(normalizeRepository(image));

  const appsByName = new Map(args.applications.map((a) => [a.metadata.name, a]));
  for (const grant of args.grants) {
    const app = appsByName.get(grant.application);
    if (!app || grant.versions.length === 0) continue;
    const tagFormat = app.spec.tagFormat ?? '{version}';
    const releases = new Map((app.spec.versions ?? []).map((r) => [r.version, r]));
    for (const image of app.spec.images) {
      const repo = entry(normalizeRepository(image));
      repo.licenses.push(grant.license);
      for (const version of grant.versions) {
        repo.allowedTags.push(tagFor(tagFormat, version));
        const digest = releases.get(version)?.digests?.[image];
        if (digest) repo.allowedDigests.push(digest);
      }
    }
  }
  const sorted: Record<string, RepositoryGrant> = {};
  for (const repo of Object.keys(repositories).sort()) {
    const r = repositories[repo]!;
    sorted[repo] = {
      allowedTags: uniqueSorted(r.allowedTags, compareTags),
      allowedDigests: uniqueSorted(r.allowedDigests),
      licenses: uniqueSorted(r.licenses),
    };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'VersionPolicy',
    metadata: { name: VERSION_POLICY_NAME, namespace: args.namespace, labels: ownedLabels(args.customer) },
    spec: { customer: args.customer, admission: args.admission, repositories: sorted },
  };
}

function uniqueSorted(values: string[], compare?: (a: string, b: string) => number): string[] {
  return [...new Set(values)].sort(compare);
}

/** Tags in version order where they parse as versions ("v2.10.0" after "v2.9.0"), else by text. */
function compareTags(a: string, b: string): number {
  const va = semver.coerce(a, { includePrerelease: true });
  const vb = semver.coerce(b, { includePrerelease: true });
  if (va && vb) {
    const byVersion = semver.compare(va, vb);
    if (byVersion !== 0) return byVersion;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
