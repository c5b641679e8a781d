/**
 * Reading one License manifest from a file (or stdin as "-"), checked before anything is done
 * with it: one YAML document, kind License of licensegate.dev, a name, a valid spec.
 */
import { readFileSync } from 'node:fs';
import { isScalar, parseAllDocuments } from 'yaml';
import { API_VERSION, licenseSpec, type License } from '../api/index.js';
import { CliError, ExitCode } from './errors.js';

export function readLicenseFile(path: string): License {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `license file ${path} does not exist` : `cannot read ${path}: ${(error as Error).message}`, ExitCode.Usage);
  }
  return parseLicense(text, path);
}

export function parseLicense(text: string, source: string): License {
  // Empty documents (a leading or trailing "---", comments only) are not documents to refuse.
  const docs = parseAllDocuments(text).filter((d) => d.errors.length > 0 || (d.contents !== null && !(isScalar(d.contents) && d.contents.value === null)));
  if (docs.length === 0) throw new CliError(`${source} is empty; it should hold one License manifest`, ExitCode.Usage);
  if (docs.length > 1) throw new CliError(`${source} holds ${docs.length} YAML documents; put exactly one License in a file`, ExitCode.Usage);
  const doc = docs[0]!;
  if (doc.errors.length > 0) throw new CliError(`${source} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, ExitCode.Usage);
  let object: Partial<License> | null;
  try {
    object = doc.toJS() as Partial<License> | null;
  } catch (error) {
    // e.g. an alias (*name) without its anchor
    throw new CliError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, ExitCode.Usage);
  }
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new CliError(`${source} does not hold a Kubernetes object`, ExitCode.Usage);
  if (object.kind !== 'License' || object.apiVersion !== API_VERSION) {
    throw new CliError(`${source} holds a ${object.kind ?? 'document without kind'} (${object.apiVersion ?? 'no apiVersion'}), not a License (apiVersion: ${API_VERSION}, kind: License)`, ExitCode.Usage);
  }
  if (typeof object.metadata?.name !== 'string' || object.metadata.name === '') throw new CliError(`${source}: the License has no metadata.name`, ExitCode.Usage);
  const spec = licenseSpec.safeParse(object.spec);
  if (!spec.success) {
    const issue = spec.error.issues[0]!;
    throw new CliError(`${source}: spec.${issue.path.join('.')}: ${issue.message}`, ExitCode.Usage);
  }
  return object as License;
}

/** The manifest as a vendor hands it out: no status, no server-set metadata. */
export function cleanManifest(license: License): License {
  const { name, labels, annotations } = license.metadata;
  return {
    apiVersion: API_VERSION,
    kind: 'License',
    metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: license.spec,
  };
}
