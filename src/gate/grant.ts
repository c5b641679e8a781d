/**
 * What one License lets its holder pull through the gate right now, in registry terms:
 * repositories (paths at the gate), tags and catalogue digests. Pure.
 *
 * Pulling follows the pull secret: an Active license pulls its granted versions; during the
 * grace period after expiry it still pulls what it resolved to (running workloads may need
 * to re-pull while their owner renews); after that, when suspended, pending or invalid, it
 * pulls nothing. Revoked versions are never in either list.
 */
import type { Application, License } from '../api/index.js';
import type { LicenseEvaluation } from '../licensing/evaluate.js';
import { Reason } from '../licensing/reasons.js';

export interface RepositoryGrant {
  /** Tags granted in this repository, with the version each stands for. */
  tags: Map<string, string>;
  /** Catalogue digests of granted versions for this repository. */
  digests: Set<string>;
}

export interface RegistryGrant {
  license: string;
  application: string;
  /** Whether the license pulls anything now. */
  pulling: boolean;
  /** Why (the License's reason, e.g. Active, InGracePeriod, Expired, Suspended). */
  reason: string;
  message: string;
  /** Versions pullable now, ascending. */
  versions: string[];
  /** Repository path (without host) → what it grants there. */
  repositories: Map<string, RepositoryGrant>;
}

/** A license whose status the operator has written for its current spec and found Invalid stays refused (signatures, limits the gate cannot see). */
function invalidByOperator(license: License): string | undefined {
  const status = license.status;
  if (!status || status.phase !== 'Invalid') return undefined;
  if (license.metadata.generation === undefined || status.observedGeneration !== license.metadata.generation) return undefined;
  const valid = status.conditions?.find((c) => c.type === 'Valid');
  return valid?.message ?? 'the operator found this license invalid';
}

/** Splits an image repository into host and path ("gate.example/acme/api" → ["gate.example", "acme/api"]). */
export function splitRepository(image: string): { host: string; path: string } {
  const slash = image.indexOf('/');
  return slash === -1 ? { host: '', path: image } : { host: image.slice(0, slash), path: image.slice(slash + 1) };
}

/** The registry grant of `license` given its evaluation now and its Application (undefined when missing). */
export function registryGrant(license: License, evaluation: LicenseEvaluation, application: Application | undefined): RegistryGrant {
  const base = { license: license.metadata.name, application: license.spec.application, repositories: new Map<string, RepositoryGrant>() };
  const nothing = (reason: string, message: string): RegistryGrant => ({ ...base, pulling: false, reason, message, versions: [] });
  const operatorVerdict = invalidByOperator(license);
  if (operatorVerdict) return nothing(Reason.InvalidSpec, operatorVerdict);
  if (!application) return nothing(Reason.ApplicationNotFound, `Application "${license.spec.application}" does not exist`);
  const versions = evaluation.phase === 'Active' ? evaluation.grantedVersions : evaluation.keepsPullSecret ? evaluation.resolvedVersions : [];
  if (versions.length === 0) {
    const why = evaluation.phase === 'Active' ? 'it grants no version' : `it is ${evaluation.phase}: ${evaluation.message}`;
    return nothing(evaluation.reason, why);
  }
  const tagFormat = application.spec.tagFormat ?? '{version}';
  const digestsByVersion = new Map(application.spec.versions.map((r) => [r.version, r.digests ?? {}]));
  const repositories = new Map<string, RepositoryGrant>();
  for (const image of application.spec.images) {
    const grant: RepositoryGrant = { tags: new Map(), digests: new Set() };
    for (const version of versions) {
      grant.tags.set(tagFormat.replaceAll('{version}', version), version);
      const digest = digestsByVersion.get(version)?.[image];
      if (digest) grant.digests.add(digest);
    }
    repositories.set(splitRepository(image).path, grant);
  }
  return { ...base, pulling: true, reason: evaluation.reason, message: evaluation.message, versions, repositories };
}

/** One line saying what a grant allows, for refusals: the holder learns what to ask for. */
export function describeGrant(grant: RegistryGrant): string {
  if (!grant.pulling) return `license ${grant.license} pulls nothing now (${grant.reason}): ${grant.message}`;
  const repos = [...grant.repositories.keys()].sort().join(', ');
  return `license ${grant.license} grants versions ${grant.versions.join(', ')} of application ${grant.application} (repositories ${repos})`;
}
