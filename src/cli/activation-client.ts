/** The customer side of online activation: ask the vendor's server for a License bound to this cluster. */
import type { License } from '../api/index.js';
import { ACTIVATION_PATH } from '../activation/server.js';
import { CliError, ExitCode } from './errors.js';
import { clusterId, type Cluster } from './kube.js';
import { parseLicense } from './license-file.js';

const TIMEOUT_MS = 30_000;

export async function fetchActivation(cluster: Cluster, options: { key: string; server: string }): Promise<License> {
  let url: URL;
  try {
    url = new URL(ACTIVATION_PATH, options.server);
  } catch {
    throw new CliError(`--server "${options.server}" is not a URL such as https://licenses.vendor.example`, ExitCode.Usage);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError(`--server "${options.server}" must be an https:// URL`, ExitCode.Usage);
  const id = await clusterId(cluster);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: options.key, clusterId: id }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(cause)) {
      throw new CliError(`the activation server ${url.origin} presented a certificate this machine does not trust (${cause}); if the vendor uses its own CA, run with NODE_EXTRA_CA_CERTS=ca.pem`, ExitCode.Unavailable);
    }
    throw new CliError(`the activation server ${url.origin} did not answer (${cause}); check --server and the network, or activate offline with a license file from the vendor`, ExitCode.Unavailable);
  }
  const text = await response.text();
  let body: { license?: unknown; reason?: string; message?: string };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new CliError(`the activation server ${url.origin} answered HTTP ${response.status} with something that is not a licensegate answer; check --server`, ExitCode.Unavailable);
  }
  if (!response.ok) {
    const code = response.status >= 500 ? ExitCode.Unavailable : ExitCode.Failure;
    throw new CliError(`activation refused: ${body.reason ?? `HTTP ${response.status}`}: ${body.message ?? ''}`, code);
  }
  return parseLicense(JSON.stringify(body.license), `the answer of ${url.origin}`);
}
