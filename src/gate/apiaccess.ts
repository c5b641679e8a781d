/**
 * The gate's connection to the API server without @kubernetes/client-node, whose KubeConfig
 * loads every generated API model (≈ 65 MiB of the gate's memory, measured by bench/gate.ts)
 * for two methods the informers use. Handles what a gate meets: the in-cluster ServiceAccount
 * (token re-read, as it is rotated) and kubeconfig files with a CA and client certificates or
 * a token. Anything else (exec plugins, auth providers, proxies) falls back to client-node.
 */
import { readFileSync } from 'node:fs';
import { Agent, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { ApiServerAccess } from '../kube/informer.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

interface Identity {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  token?: () => string | undefined;
}

class LightAccess implements ApiServerAccess {
  private readonly agent: Agent;
  constructor(private readonly id: Identity) {
    this.agent = new Agent({ keepAlive: true, ca: id.ca, cert: id.cert, key: id.key, rejectUnauthorized: !id.insecure });
  }
  getCurrentCluster() {
    return { name: 'current', server: this.id.server, skipTLSVerify: Boolean(this.id.insecure) } as ReturnType<ApiServerAccess['getCurrentCluster']>;
  }
  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    options.agent = this.agent;
    const token = this.id.token?.();
    if (token) options.headers = { ...(options.headers as Record<string, string>), Authorization: `Bearer ${token}` };
  }
}

function rereading(path: string): () => string | undefined {
  let value: string | undefined;
  let at = 0;
  return () => {
    if (Date.now() - at > TOKEN_REREAD_MS) {
      value = readFileSync(path, 'utf8').trim();
      at = Date.now();
    }
    return value;
  };
}

function inCluster(): Identity | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  try {
    readFileSync(join(SA_DIR, 'token'));
  } catch {
    return undefined;
  }
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, ca: readFileSync(join(SA_DIR, 'ca.crt')), token: rereading(join(SA_DIR, 'token')) };
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Named<{ context: { cluster: string; user: string } }>[];
  clusters?: Named<{ cluster: Record<string, string | boolean | undefined> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
}

function fromKubeconfig(path: string): Identity | undefined {
  const config = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
  const context = config.contexts?.find((c) => c.name === config['current-context'])?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (!context || !cluster || typeof cluster.server !== 'string' || cluster['proxy-url']) return undefined;
  const supported = new Set(['client-certificate-data', 'client-key-data', 'client-certificate', 'client-key', 'token', 'tokenFile']);
  if (Object.keys(user).some((k) => !supported.has(k))) return undefined;
  const base = dirname(path);
  const file = (value: unknown) => (typeof value === 'string' ? readFileSync(isAbsolute(value) ? value : join(base, value)) : undefined);
  const data = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64') : undefined);
  const token = typeof user.token === 'string' ? user.token : undefined;
  return {
    server: cluster.server,
    ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    key: data(user['client-key-data']) ?? file(user['client-key']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    token: token ? () => token : typeof user.tokenFile === 'string' ? rereading(user.tokenFile) : undefined,
  };
}

/** API server access for the gate: KUBECONFIG (or ~/.kube/config), else in-cluster; client-node only when these cannot express it. */
export async function gateApiAccess(): Promise<ApiServerAccess> {
  const path = process.env.KUBECONFIG?.split(delimiter).find(Boolean);
  let identity: Identity | undefined;
  if (path) identity = fromKubeconfig(path);
  else identity = inCluster() ?? (() => {
    try {
      return fromKubeconfig(join(homedir(), '.kube', 'config'));
    } catch {
      return undefined;
    }
  })();
  if (identity) return new LightAccess(identity);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
