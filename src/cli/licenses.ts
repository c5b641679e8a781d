/** License reads and writes the CLI makes. */
import type { Ledger, License } from '../api/index.js';
import { apiError } from '../kube/errors.js';
import { CliError, ExitCode } from './errors.js';
import { call, crd, describeApiFailure, type Cluster } from './kube.js';

const licenses = crd('licenses');

export async function getLicense(cluster: Cluster, name: string): Promise<License> {
  try {
    return (await cluster.custom.getClusterCustomObject({ ...licenses, name })) as License;
  } catch (error) {
    if (apiError(error).code === 404 && apiError(error).reason === 'NotFound') {
      throw new CliError(`License "${name}" does not exist on ${cluster.server}; kubectl get licenses lists them`, ExitCode.Failure);
    }
    throw describeApiFailure(cluster, `read License ${name}`, error);
  }
}

export async function listLicenses(cluster: Cluster): Promise<License[]> {
  const list = (await call(cluster, 'list Licenses', () => cluster.custom.listClusterCustomObject(licenses))) as { items: License[] };
  return list.items;
}

export async function listLedgers(cluster: Cluster): Promise<Ledger[]> {
  const list = (await call(cluster, 'list Ledgers', () => cluster.custom.listClusterCustomObject(crd('ledgers')))) as { items: Ledger[] };
  return list.items;
}

/**
 * Creates the License, or replaces the live one's spec with exactly this one (a server-side
 * apply would keep fields someone else added, and the signature would not match). Returns the
 * generation written, which the operator's verdict must have observed.
 */
export async function applyLicense(cluster: Cluster, license: License): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    let existing: License | undefined;
    try {
      existing = (await cluster.custom.getClusterCustomObject({ ...licenses, name: license.metadata.name })) as License;
    } catch (error) {
      if (apiError(error).code !== 404 || apiError(error).reason !== 'NotFound') throw describeApiFailure(cluster, `read License ${license.metadata.name}`, error);
    }
    try {
      const written = existing
        ? await cluster.custom.replaceClusterCustomObject({
            ...licenses,
            name: license.metadata.name,
            body: {
              ...existing,
              metadata: {
                ...existing.metadata,
                labels: { ...existing.metadata.labels, ...license.metadata.labels },
                annotations: { ...existing.metadata.annotations, ...license.metadata.annotations },
              },
              spec: license.spec,
            },
            fieldManager: 'licensegate-cli',
          })
        : await cluster.custom.createClusterCustomObject({ ...licenses, body: license, fieldManager: 'licensegate-cli' });
      return (written as License).metadata.generation ?? 1;
    } catch (error) {
      if (apiError(error).code === 409 && attempt < 3) continue;
      throw describeApiFailure(cluster, `apply License ${license.metadata.name}`, error);
    }
  }
}

/** Polls until the operator's status has observed `generation`, or the timeout passes. */
export async function waitForJudgement(cluster: Cluster, name: string, generation: number, timeoutMs: number): Promise<License> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const license = await getLicense(cluster, name);
    if (license.status?.phase && (license.status.observedGeneration ?? 0) >= generation) return license;
    if (Date.now() > deadline) {
      throw new CliError(
        `License ${name} was applied, but the licensegate operator has not judged it within ${timeoutMs / 1000} s; is the operator running (kubectl get pods -n licensegate-system)?`,
        ExitCode.Unavailable,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
