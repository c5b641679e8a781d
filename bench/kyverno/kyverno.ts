/**
 * Kyverno's admission controller, out of cluster, against the benchmark's local API server: the
 * peer our admission cost is compared with (issue #13). Built from Go modules once and cached
 * (build-kyverno.sh); not part of CI.
 *
 * Out of cluster it needs: its namespace, its two ConfigMaps, a handful of env variables naming
 * itself, and --serverIP so that the webhook configurations it writes point at 127.0.0.1. It
 * issues its own CA and serving certificate into Secrets and answers TLS errors until they
 * exist (a few seconds). Its namespace selector moves into the webhook configurations (the
 * ConfigMap's `webhooks` key), so namespaces it does not govern never reach it: the same
 * treatment our policy gets from its bindings.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { applyObjects, readYamlObjects } from '../../src/kube/apply.js';
import { freePort } from '../../src/localcluster/index.js';

export const KYVERNO_VERSION = 'v1.15.2';
const NAMESPACE = 'kyverno';
const SERVICE = 'kyverno-svc';

export interface Kyverno {
  pid: number;
  stop(): Promise<void>;
}

/** The cached binary's path, building it first when missing (minutes, once). */
export function kyvernoBinary(repoRoot: string): string {
  return execFileSync('bash', [join(repoRoot, 'bench', 'kyverno', 'build-kyverno.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Kyverno's CRDs, from the module source the binary was built from. */
async function kyvernoCrds(): Promise<KubernetesObject[]> {
  const json = execFileSync('go', ['mod', 'download', '-json', `github.com/kyverno/kyverno@${KYVERNO_VERSION}`], {
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
  });
  const dir = (JSON.parse(json) as { Dir: string }).Dir;
  const files = ['kyverno', 'policies.kyverno.io', 'reports', 'policyreport'].flatMap((sub) =>
    readdirSync(join(dir, 'config', 'crds', sub))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(dir, 'config', 'crds', sub, f)),
  );
  return readYamlObjects(files);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`kyverno: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Installs Kyverno's CRDs and configuration and starts its admission controller; resolves once
 * it has registered its webhooks. `namespaceSelector` limits every webhook it registers.
 */
export async function startKyverno(args: { kc: KubeConfig; kubeconfigPath: string; repoRoot: string; namespaceSelector: object; logFile: string }): Promise<Kyverno> {
  const binary = kyvernoBinary(args.repoRoot);
  const client = KubernetesObjectApi.makeApiClient(args.kc);
  await applyObjects(args.kc, await kyvernoCrds());
  await until('its CRDs', async () => {
    await client.list('kyverno.io/v1', 'ClusterPolicy');
    await client.list('policies.kyverno.io/v1alpha1', 'ValidatingPolicy');
    return true;
  });
  await applyObjects(args.kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kyverno', namespace: NAMESPACE }, data: { webhooks: JSON.stringify({ namespaceSelector: args.namespaceSelector }) } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kyverno-metrics', namespace: NAMESPACE }, data: {} },
  ]);
  const port = await freePort();
  const metricsPort = await freePort();
  const log = createWriteStream(args.logFile);
  const child = spawn(
    binary,
    [
      `--kubeconfig=${args.kubeconfigPath}`,
      `--serverIP=127.0.0.1:${port}`,
      `--webhookServerPort=${port}`,
      `--caSecretName=${SERVICE}.${NAMESPACE}.svc.kyverno-tls-ca`,
      `--tlsSecretName=${SERVICE}.${NAMESPACE}.svc.kyverno-tls-pair`,
      `--metricsPort=${metricsPort}`,
      '--controllerRuntimeMetricsAddress=0',
      '--admissionReports=false',
    ],
    {
      env: {
        ...process.env,
        KYVERNO_NAMESPACE: NAMESPACE,
        KYVERNO_SERVICEACCOUNT_NAME: 'kyverno-admission-controller',
        KYVERNO_DEPLOYMENT: 'kyverno-admission-controller',
        KYVERNO_POD_NAME: 'kyverno-bench',
        KYVERNO_SVC: SERVICE,
        INIT_CONFIG: 'kyverno',
        METRICS_CONFIG: 'kyverno-metrics',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `kyverno exited (code ${code}, signal ${signal}); see ${args.logFile}`));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  try {
    await until('its webhook configurations', async () => {
      if (exited) throw new Error(exited);
      const configs = await client.list('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration');
      return configs.items.some((c) => c.metadata?.name?.startsWith('kyverno-'));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, stop };
}

/** The two Kyverno policies equivalent to ours for the benchmark: an allow-list of two tags of one repository. */
export function kyvernoPolicies(repo: string, tags: string[], namespaces: { pattern: string; cel: string }): Record<string, unknown>[] {
  return [
    {
      apiVersion: 'kyverno.io/v1',
      kind: 'ClusterPolicy',
      metadata: { name: 'bench-licensed-tags' },
      spec: {
        validationFailureAction: 'Enforce',
        background: false,
        rules: [
          {
            name: 'licensed-tags',
            match: { any: [{ resources: { kinds: ['Pod'], namespaces: [namespaces.pattern] } }] },
            validate: {
              message: `image is not licensed: ${repo} tags [${tags.join(', ')}]`,
              pattern: { spec: { containers: [{ image: tags.map((t) => `${repo}:${t}`).join(' | ') }] } },
            },
          },
        ],
      },
    },
    {
      apiVersion: 'policies.kyverno.io/v1alpha1',
      kind: 'ValidatingPolicy',
      metadata: { name: 'bench-licensed-tags-cel' },
      spec: {
        validationActions: ['Deny'],
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespaces.cel } },
        },
        validations: [
          {
            expression: `object.spec.containers.all(c, c.image in [${tags.map((t) => `'${repo}:${t}'`).join(', ')}])`,
            message: `image is not licensed: ${repo} tags [${tags.join(', ')}]`,
          },
        ],
      },
    },
  ];
}
