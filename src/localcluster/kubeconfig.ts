import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

/** The context, cluster and user name in kubeconfigs written by the harness. */
export const LOCAL_CONTEXT = 'licensegate-local';

/** What a kubeconfig for the local cluster needs. */
export interface LocalKubeconfig {
  server: string;
  token: string;
  /** PEM bundle that verifies the apiserver's serving certificate. */
  caPem: string;
}

/** Renders a single-context kubeconfig with token authentication. */
export function renderKubeconfig({ server, token, caPem }: LocalKubeconfig): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: LOCAL_CONTEXT,
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: LOCAL_CONTEXT, user: { token } }],
    contexts: [{ name: LOCAL_CONTEXT, context: { cluster: LOCAL_CONTEXT, user: LOCAL_CONTEXT } }],
    'current-context': LOCAL_CONTEXT,
  });
}

/** Writes {@link renderKubeconfig}'s output to `path`, readable only by its owner (it holds a token). */
export function writeKubeconfig(path: string, config: LocalKubeconfig): void {
  writeFileSync(path, renderKubeconfig(config), { mode: 0o600 });
}
