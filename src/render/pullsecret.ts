/** The pull Secret of one licensed application in one customer namespace. */
import type { V1Secret } from '@kubernetes/client-node';
import { ownedLabels } from '../vocabulary/labels.js';

/** Name of the pull Secret for `application`; workloads list it in imagePullSecrets. */
export function pullSecretName(application: string): string {
  return `licensegate-pull-${application}`;
}

/** The data of a credentials Secret the vendor referenced, as the API server returned it (base64 values). */
export interface CredentialsSecret {
  type: string | undefined;
  data: Record<string, string> | undefined;
  /** Its labels: a Secret outside the operator's namespace must opt in (see credentials.ts). */
  labels?: Record<string, string> | undefined;
}

export type PullSecretResult =
  | { ok: true; secret: V1Secret }
  | { ok: false; reason: typeof CREDENTIALS_INVALID; message: string };

export const CREDENTIALS_INVALID = 'CredentialsInvalid' as const;

/**
 * Turns vendor credentials into a namespace's pull Secret: a kubernetes.io/dockerconfigjson
 * Secret is copied as is; kubernetes.io/basic-auth (username, password) becomes a
 * dockerconfigjson for `server`.
 */
export function renderPullSecret(args: {
  namespace: string;
  customer: string;
  application: string;
  server: string | undefined;
  credentials: CredentialsSecret;
  /** Where the credentials came from, for messages. */
  source: string;
}): PullSecretResult {
  const dockerConfig = dockerConfigJson(args.credentials, args.server, args.source);
  if (!dockerConfig.ok) return dockerConfig;
  return {
    ok: true,
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: pullSecretName(args.application),
        namespace: args.namespace,
        labels: ownedLabels(args.customer, args.application),
      },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': dockerConfig.value },
    },
  };
}

function dockerConfigJson(
  credentials: CredentialsSecret,
  server: string | undefined,
  source: string,
): { ok: true; value: string } | { ok: false; reason: typeof CREDENTIALS_INVALID; message: string } {
  const fail = (message: string) => ({ ok: false as const, reason: CREDENTIALS_INVALID as typeof CREDENTIALS_INVALID, message: `${source}: ${message}` });
  const data = credentials.data ?? {};
  if (credentials.type === 'kubernetes.io/dockerconfigjson') {
    const value = data['.dockerconfigjson'];
    return value ? { ok: true, value } : fail('has no .dockerconfigjson key');
  }
  if (credentials.type === 'kubernetes.io/basic-auth') {
    if (!server) return fail('basic-auth credentials need a registry server (spec.registry.server of the Application)');
    const username = decode(data.username);
    const password = decode(data.password);
    if (!username || !password) return fail('basic-auth Secret needs both username and password');
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    const json = JSON.stringify({ auths: { [server]: { username, password, auth } } });
    return { ok: true, value: Buffer.from(json).toString('base64') };
  }
  return fail(`has type ${credentials.type ?? '(none)'}; use kubernetes.io/dockerconfigjson or kubernetes.io/basic-auth`);
}

const decode = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8'));
