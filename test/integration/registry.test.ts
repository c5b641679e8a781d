/**
 * The pull Secret the operator writes against a real registry (distribution with htpasswd
 * auth) and a real client (skopeo): it authenticates a pull, wrong or rotated-out
 * credentials do not, and suspending the License takes the Secret away.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import type { Operator } from '../../src/operator.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { isNotFound, kubeConfig, uniqueName } from './context.js';
import { startOperator, watchUntil } from './operator-harness.js';
import { type PushedImage, pushTestImage, skopeo, startRegistry, type TestRegistry } from './registry.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

const OPERATOR_NAMESPACE = 'licensegate-system';
const TEST_TIMEOUT_MS = 30_000;
const WATCH_TIMEOUT_MS = 15_000;
/** What distribution answers, and skopeo prints, when credentials are missing or wrong. */
const AUTH_FAILURE = /unauthorized|authentication required/i;

interface DockerConfig {
  auths: Record<string, { username?: string; password?: string; auth?: string }>;
}

describe('pull secret against a real registry', () => {
  const app = uniqueName('reg-app');
  const customer = uniqueName('reg-cust');
  const namespace = customer;
  const license = uniqueName('reg-lic');
  const credentials = uniqueName('reg-creds');
  const repository = `acme/${app}`;
  const secretsPath = `/api/v1/namespaces/${namespace}/secrets`;

  let registry: TestRegistry | undefined;
  let operator: Operator | undefined;
  let workdir: string | undefined;
  let image: PushedImage;
  /** The authfile made from the first pull Secret, before any rotation. */
  let firstAuthfile: string;

  const credentialsSecret = (username: string, password: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: credentials, namespace: OPERATOR_NAMESPACE },
    type: 'kubernetes.io/basic-auth',
    stringData: { username, password },
  });

  /** Waits, by watching, for the pull Secret to exist and satisfy `accept`; returns its docker config. */
  const pullSecretConfig = (accept: (config: DockerConfig) => boolean = () => true) =>
    withLicenseStatus(watchUntil<V1Secret, DockerConfig>(
      kc,
      secretsPath,
      (all) => {
        const secret = all.find((s) => s.metadata?.name === pullSecretName(app));
        const encoded = secret?.data?.['.dockerconfigjson'];
        if (!secret || !encoded) return undefined;
        expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
        const config = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as DockerConfig;
        return accept(config) ? config : undefined;
      },
      WATCH_TIMEOUT_MS,
    ));

  /** On failure, says what the operator thought of the License: the usual reason a Secret is missing. */
  const withLicenseStatus = async <T>(waiting: Promise<T>): Promise<T> => {
    try {
      return await waiting;
    } catch (error) {
      const status = await custom
        .getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license })
        .then((l: { status?: unknown }) => JSON.stringify(l.status ?? null), (e: Error) => `unreadable: ${e.message}`);
      throw new Error(`${(error as Error).message}\nLicense ${license} status: ${status}`, { cause: error });
    }
  };

  let authfiles = 0;
  const writeAuthfile = async (config: DockerConfig) => {
    const path = join(workdir!, `auth-${++authfiles}.json`);
    await writeFile(path, JSON.stringify(config));
    return path;
  };

  const inspect = (authfile: string) => skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${image.reference}`]);

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'licensegate-registry-test-'));
    registry = await startRegistry();
    image = await pushTestImage(registry, repository, '1.0.0');

    await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } }], { fieldManager: 'test' });
    await applyObjects(
      kc,
      [
        credentialsSecret(registry.username, registry.password),
        {
          apiVersion: API_VERSION,
          kind: 'Application',
          metadata: { name: app },
          spec: {
            images: [`${registry.server}/${repository}`],
            versions: [{ version: '1.0.0' }],
            registry: { server: registry.server, credentialsSecret: { namespace: OPERATOR_NAMESPACE, name: credentials } },
          },
        },
        { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { namespaces: [namespace] } },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } },
      ] as KubernetesObject[],
      { fieldManager: 'test' },
    );
    operator = await startOperator(kc);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await operator?.stop();
    await registry?.stop();
    if (workdir) await rm(workdir, { recursive: true, force: true });
    // Leave a long-lived cluster (LICENSEGATE_TEST_USE_KUBECONFIG) as we found it.
    const ignoreMissing = (error: unknown) => {
      if (!isNotFound(error)) throw error;
    };
    const deleteCluster = (plural: string, name: string) =>
      custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural, name }).catch(ignoreMissing);
    await deleteCluster('licenses', license);
    await deleteCluster('customers', customer);
    await deleteCluster('applications', app);
    await core.deleteNamespacedSecret({ name: credentials, namespace: OPERATOR_NAMESPACE }).catch(ignoreMissing);
    await core.deleteNamespace({ name: namespace }).catch(ignoreMissing);
  }, TEST_TIMEOUT_MS);

  it('the operator-written pull secret authenticates a pull', async () => {
    const config = await pullSecretConfig();
    expect(Object.keys(config.auths)).toEqual([registry!.server]);
    firstAuthfile = await writeAuthfile(config);

    const result = await inspect(firstAuthfile);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const inspected = JSON.parse(result.stdout) as { Name: string; Digest: string; RepoTags: string[]; Layers: string[] };
    expect(inspected).toMatchObject({ Name: `${registry!.server}/${repository}`, Digest: image.digest, RepoTags: ['1.0.0'], Layers: [image.layerDigest] });

    // The whole image, layer included, the way a kubelet pulls it.
    const out = join(workdir!, 'pulled');
    const copy = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-authfile', firstAuthfile, `docker://${image.reference}`, `dir:${out}`]);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
    expect(await readdir(out)).toContain(image.layerDigest.replace('sha256:', ''));
  }, TEST_TIMEOUT_MS);

  it('wrong or missing credentials are refused', async () => {
    const [server, entry] = Object.entries((await pullSecretConfig()).auths)[0]!;
    const password = `${entry.password}-wrong`;
    const wrong = await writeAuthfile({
      auths: { [server]: { username: entry.username, password, auth: Buffer.from(`${entry.username}:${password}`).toString('base64') } },
    });
    const refused = await inspect(wrong);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(AUTH_FAILURE);

    const anonymous = await inspect(await writeAuthfile({ auths: {} }));
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(AUTH_FAILURE);
  }, TEST_TIMEOUT_MS);

  it('rotated credentials: the pull secret follows the vendor Secret, and the old one stops working', async () => {
    const rotated = `rotated-${Date.now().toString(36)}`;
    // The registry re-reads htpasswd when its mtime changes: the old password is revoked now.
    await registry!.setPassword(rotated);
    await applyObjects(kc, [credentialsSecret(registry!.username, rotated)] as KubernetesObject[], { fieldManager: 'test' });

    const config = await pullSecretConfig((c) => c.auths[registry!.server]?.password === rotated);
    const result = await inspect(await writeAuthfile(config));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ Digest: image.digest });

    const revoked = await inspect(firstAuthfile);
    expect(revoked.code).not.toBe(0);
    expect(revoked.stderr).toMatch(AUTH_FAILURE);
  }, TEST_TIMEOUT_MS);

  it('suspending the license deletes the pull secret', async () => {
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { suspended: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await watchUntil<V1Secret, true>(
      kc,
      secretsPath,
      (all) => (all.some((s) => s.metadata?.name === pullSecretName(app)) ? undefined : true),
      WATCH_TIMEOUT_MS,
    );
    await expect(core.readNamespacedSecret({ name: pullSecretName(app), namespace })).rejects.toSatisfy(isNotFound);
  }, TEST_TIMEOUT_MS);
});
