/**
 * The registry gate against real parts: Debian's docker-registry (htpasswd) as the vendor's
 * upstream, skopeo as the customer's client, the operator writing pull secrets, the gate
 * reading Licenses and credentials from the real API server. The attacker here holds a pull
 * secret (or has stolen one): every test is something such a holder tries.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.js';
import { startGate, type RunningGate } from '../../src/gate/run.js';
import { applyObjects } from '../../src/kube/apply.js';
import { freePort, serviceAccountKubeConfig } from '../../src/localcluster/index.js';
import { gateClusterRules, gateNamespaceRules } from '../../src/manifests/rbac.js';
import { GATE_TLS_SECRET } from '../../src/reconcile/gatetls.js';
import type { Operator } from '../../src/operator.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { gateCredentialsSecretName, GATE_CREDENTIALS_LABEL, GATE_LICENSE_ANNOTATION } from '../../src/vocabulary/gate.js';
import { eventually, isNotFound, kubeConfig, uniqueName } from './context.js';
import { basicAuth, ociError, pushIndexImage, rawRequest, spawnGate, type GateProcess, type PushedIndex } from './gate-harness.js';
import { startOperator, testLog, watchUntil } from './operator-harness.js';
import { pushTestImage, skopeo, startRegistry, type PushedImage, type TestRegistry } from './registry.js';

const execFileAsync = promisify(execFile);
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const NS = 'licensegate-system';
const T = 60_000;

interface DockerConfig {
  auths: Record<string, { username: string; password: string; auth: string }>;
}

describe('registry gate', () => {
  const app = uniqueName('gate-app');
  const deadApp = uniqueName('gate-dead');
  const customer = uniqueName('gate-cust');
  const otherCustomer = uniqueName('gate-other');
  const license = uniqueName('gate-lic');
  const otherLicense = uniqueName('gate-olic');
  const deadLicense = uniqueName('gate-dlic');
  const upstreamCreds = uniqueName('gate-upstream');
  const repo = `acme/${app}`;
  const gateClusterRole = uniqueName('gate-reader');
  const gateServiceAccount = uniqueName('gate-sa');
  let registry: TestRegistry;
  let operator: Operator | undefined;
  let gate: RunningGate | undefined;
  let gateHost: string;
  let deadServer: string;
  let work: string;
  const images: Record<string, PushedImage> = {};
  let index: PushedIndex;

  const licensePatch = (name: string, spec: Record<string, unknown>) =>
    custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

  /** The docker config of the customer's pull secret, once `accept` holds. */
  const pullSecret = (namespace: string, accept: (c: DockerConfig) => boolean = () => true) =>
    watchUntil<V1Secret, DockerConfig>(kc, `/api/v1/namespaces/${namespace}/secrets`, (all) => {
      const encoded = all.find((s) => s.metadata?.name === pullSecretName(app))?.data?.['.dockerconfigjson'];
      if (!encoded) return undefined;
      const config = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as DockerConfig;
      return accept(config) ? config : undefined;
    }, 20_000);

  let authfiles = 0;
  const authfile = async (config: DockerConfig) => {
    const path = join(work, `auth-${++authfiles}.json`);
    await writeFile(path, JSON.stringify(config));
    return path;
  };
  const credsOf = (config: DockerConfig) => config.auths[gateHost]!;
  const inspect = (auth: string, ref: string) => skopeo(['inspect', '--tls-verify=false', '--authfile', auth, `docker://${gateHost}/${ref}`]);
  const get = (path: string, creds: { username: string; password: string }, headers: Record<string, string> = {}) =>
    rawRequest(Number(gateHost.split(':')[1]), 'GET', path, { ...basicAuth(creds.username, creds.password), ...headers });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'licensegate-gate-test-'));
    registry = await startRegistry();
    for (const tag of ['1.0.0', '1.1.0', '2.0.0', '3.0.0']) images[tag] = await pushTestImage(registry, repo, tag);
    index = await pushIndexImage(registry, repo, '4.0.0');
    const gatePort = await freePort();
    gateHost = `127.0.0.1:${gatePort}`;
    deadServer = `127.0.0.1:${await freePort()}`; // nothing listens there

    const gated = (name: string, server: string, versions: object[]) => ({
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name },
      spec: {
        images: [`${gateHost}/acme/${name}`],
        versions,
        registry: { server, credentialsSecret: { namespace: NS, name: upstreamCreds }, gate: { host: gateHost } },
      },
    });
    await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }], { fieldManager: 'test' });
    await applyObjects(
      kc,
      [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: upstreamCreds, namespace: NS }, type: 'kubernetes.io/basic-auth', stringData: { username: registry.username, password: registry.password } },
        gated(app, registry.server, [
          { version: '1.0.0' },
          { version: '1.1.0' },
          { version: '2.0.0' },
          { version: '3.0.0', digests: { [`${gateHost}/${repo}`]: images['3.0.0']!.digest } },
          { version: '4.0.0' },
        ]),
        gated(deadApp, deadServer, [{ version: '1.0.0' }]),
        { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
        { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: otherCustomer }, spec: {} },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.x', '3.0.0', '4.0.0'], revokedVersions: ['1.0.0'] } },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: otherLicense }, spec: { customer: otherCustomer, application: app, versions: ['2.0.0'] } },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: deadLicense }, spec: { customer, application: deadApp, versions: ['1.0.0'] } },
      ] as KubernetesObject[],
      { fieldManager: 'test' },
    );
    operator = await startOperator(kc, { LICENSEGATE_GATE_TLS_HOSTS: '127.0.0.1' });
    // The gate runs as its own ServiceAccount with exactly the chart's RBAC: reads, no writes.
    await applyObjects(kc, [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: gateClusterRole }, rules: gateClusterRules() },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: gateClusterRole, namespace: NS }, rules: gateNamespaceRules() },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: gateClusterRole, namespace: NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: gateClusterRole },
        subjects: [{ kind: 'ServiceAccount', name: gateServiceAccount, namespace: NS }],
      },
    ] as unknown as KubernetesObject[], { fieldManager: 'test' });
    const gateKc = await serviceAccountKubeConfig(kc, { namespace: NS, name: gateServiceAccount, clusterRole: gateClusterRole });
    gate = await startGate({ kc: gateKc, namespace: NS, host: '127.0.0.1', port: gatePort, plainHttpUpstreams: [registry.server, deadServer], log: testLog, metricsPort: 0, upstreamTagPageSize: 2 });
  }, 120_000);

  afterAll(async () => {
    await gate?.close();
    await operator?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    const ignore = (e: unknown) => {
      if (!isNotFound(e)) throw e;
    };
    for (const name of [license, otherLicense, deadLicense]) await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name }).catch(ignore);
    for (const name of [customer, otherCustomer]) await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name }).catch(ignore);
    for (const name of [app, deadApp]) await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'applications', name }).catch(ignore);
    await core.deleteNamespacedSecret({ name: upstreamCreds, namespace: NS }).catch(ignore);
    for (const ns of [customer, otherCustomer]) await core.deleteNamespace({ name: ns }).catch(ignore);
  }, T);

  it('the API server refuses a gated Application whose images are not named at the gate host', async () => {
    const bad = { apiVersion: API_VERSION, kind: 'Application', metadata: { name: uniqueName('gate-bad') }, spec: { images: [`${registry.server}/acme/x`], registry: { server: registry.server, credentialsSecret: { namespace: NS, name: upstreamCreds }, gate: { host: gateHost } } } };
    await expect(applyObjects(kc, [bad as KubernetesObject], { fieldManager: 'test' })).rejects.toThrow(/every image must be named at the gate host/);
  });

  it('the pull secret carries the license\'s gate credentials for the gate host, and the vendor\'s credentials appear nowhere in the customer namespace', async () => {
    const config = await pullSecret(customer);
    expect(Object.keys(config.auths)).toEqual([gateHost]);
    expect(credsOf(config).username).toBe(license);
    expect(credsOf(config).password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await pullSecret(otherCustomer);
    const secrets = [...(await core.listNamespacedSecret({ namespace: customer })).items, ...(await core.listNamespacedSecret({ namespace: otherCustomer })).items];
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    const everything = JSON.stringify(secrets.map((s) => Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8'))));
    expect(everything).not.toContain(registry.password);
    expect(everything).not.toContain(registry.username);
  }, T);

  it('skopeo pulls a granted tag through the gate, byte-identical to a direct pull', async () => {
    const auth = await authfile(await pullSecret(customer));
    const inspected = await inspect(auth, `${repo}:1.1.0`);
    expect(inspected.stderr).toBe('');
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: images['1.1.0']!.digest, Layers: [images['1.1.0']!.layerDigest] });

    const viaGate = join(work, 'via-gate');
    const direct = join(work, 'direct');
    const copied = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-authfile', auth, `docker://${gateHost}/${repo}:1.1.0`, `dir:${viaGate}`]);
    expect(copied.stderr).toBe('');
    const directCopy = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${registry.username}:${registry.password}`, `docker://${registry.server}/${repo}:1.1.0`, `dir:${direct}`]);
    expect(directCopy.code).toBe(0);
    const files = (await readdir(direct)).sort();
    expect((await readdir(viaGate)).sort()).toEqual(files);
    for (const file of files) expect(await readFile(join(viaGate, file))).toEqual(await readFile(join(direct, file)));
  }, T);

  it('an ungranted tag, a revoked version and an unknown digest are refused with the reason; a granted catalogue digest is served', async () => {
    const auth = await authfile(await pullSecret(customer));
    const ungranted = await inspect(auth, `${repo}:2.0.0`);
    expect(ungranted.code).not.toBe(0);
    expect(ungranted.stderr).toMatch(/denied/i);
    expect(ungranted.stderr).toContain(`tag 2.0.0 of ${repo} is not granted: license ${license} grants versions 1.1.0, 3.0.0, 4.0.0`);
    const revoked = await inspect(auth, `${repo}:1.0.0`);
    expect(revoked.code).not.toBe(0);
    expect(revoked.stderr).toContain('tag 1.0.0');
    const unknown = `sha256:${'0'.repeat(64)}`;
    const byUnknownDigest = await inspect(auth, `${repo}@${unknown}`);
    expect(byUnknownDigest.code).not.toBe(0);
    expect(byUnknownDigest.stderr).toContain(`manifest ${unknown} of ${repo} is not a granted version`);
    // The revoked version's digest is refused by digest too.
    const revokedByDigest = await inspect(auth, `${repo}@${images['1.0.0']!.digest}`);
    expect(revokedByDigest.code).not.toBe(0);

    const catalogued = await inspect(auth, `${repo}@${images['3.0.0']!.digest}`);
    expect(catalogued.stderr).toBe('');
    expect(JSON.parse(catalogued.stdout)).toMatchObject({ Digest: images['3.0.0']!.digest });
  }, T);

  it('a multi-architecture index: the index by granted tag, its children by digest, all platforms copied', async () => {
    const auth = await authfile(await pullSecret(customer));
    const out = join(work, 'index');
    const copied = await skopeo(['copy', '--all', '--quiet', '--src-tls-verify=false', '--src-authfile', auth, `docker://${gateHost}/${repo}:4.0.0`, `dir:${out}`]);
    expect(copied.stderr).toBe('');
    const files = await readdir(out);
    for (const child of index.children) expect(files).toContain(child.layerDigest.replace('sha256:', ''));
  }, T);

  it('a blob of an ungranted version is refused even with valid credentials; a granted one is served', async () => {
    const creds = credsOf(await pullSecret(customer));
    const refused = await get(`/v2/${repo}/blobs/${images['2.0.0']!.layerDigest}`, creds);
    expect(refused.status).toBe(403);
    expect(ociError(refused.body)).toMatchObject({ code: 'DENIED' });
    expect(ociError(refused.body).message).toContain('belongs to no granted version');
    const revokedLayer = await get(`/v2/${repo}/blobs/${images['1.0.0']!.layerDigest}`, creds);
    expect(revokedLayer.status).toBe(403);
    const served = await get(`/v2/${repo}/blobs/${images['3.0.0']!.layerDigest}`, creds);
    expect(served.status).toBe(200);
    expect(`sha256:${createHash('sha256').update(served.body).digest('hex')}`).toBe(images['3.0.0']!.layerDigest);
  }, T);

  it('tags/list (upstream pages of 2 followed) and _catalog show only what the license grants; a push is refused', async () => {
    const config = await pullSecret(customer);
    const auth = await authfile(config);
    const tags = await skopeo(['list-tags', '--tls-verify=false', '--authfile', auth, `docker://${gateHost}/${repo}`]);
    expect(tags.stderr).toBe('');
    expect(JSON.parse(tags.stdout).Tags).toEqual(['1.1.0', '3.0.0', '4.0.0']);
    const catalog = await get('/v2/_catalog', credsOf(config));
    expect(JSON.parse(catalog.body.toString())).toEqual({ repositories: [repo] });

    const push = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-authfile', auth, '--dest-authfile', auth, `docker://${gateHost}/${repo}:1.1.0`, `docker://${gateHost}/${repo}:9.9.9`]);
    expect(push.code).not.toBe(0);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await rawRequest(Number(gateHost.split(':')[1]), method, `/v2/${repo}/blobs/uploads/`, basicAuth(credsOf(config).username, credsOf(config).password));
      expect(r.status).toBe(405);
      expect(ociError(r.body).code).toBe('UNSUPPORTED');
    }
    const direct = await skopeo(['inspect', '--tls-verify=false', '--creds', `${registry.username}:${registry.password}`, `docker://${registry.server}/${repo}:9.9.9`]);
    expect(direct.code).not.toBe(0);
  }, T);

  it('another license\'s credentials cannot pull this license\'s versions; a wrong password gets 401 with a Basic challenge', async () => {
    const other = credsOf(await pullSecret(otherCustomer));
    expect(other.username).toBe(otherLicense);
    const theirs = await get(`/v2/${repo}/manifests/2.0.0`, other);
    expect(theirs.status).toBe(200);
    const mine = await get(`/v2/${repo}/manifests/1.1.0`, other);
    expect(mine.status).toBe(403);
    expect(ociError(mine.body).message).toContain(`license ${otherLicense} grants versions 2.0.0`);
    const mineByDigest = await get(`/v2/${repo}/manifests/${images['1.1.0']!.digest}`, other);
    expect(mineByDigest.status).toBe(403);
    const myLayer = await get(`/v2/${repo}/blobs/${images['1.1.0']!.layerDigest}`, other);
    expect(myLayer.status).toBe(403);

    const wrong = await get(`/v2/${repo}/manifests/1.1.0`, { username: license, password: `${other.password}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="licensegate"');
    const none = await rawRequest(Number(gateHost.split(':')[1]), 'GET', '/v2/');
    expect(none.status).toBe(401);
    // The vendor's own upstream credentials are no key to the gate either.
    const vendor = await get('/v2/', { username: registry.username, password: registry.password });
    expect(vendor.status).toBe(401);
  }, T);

  it('bad input: traversal, encoded slashes, malformed references, oversized headers, ranges, a dead upstream — answered, never served, never crashed', async () => {
    const creds = credsOf(await pullSecret(customer));
    const port = Number(gateHost.split(':')[1]);
    const auth = basicAuth(creds.username, creds.password);
    for (const [path, status] of [
      [`/v2/${repo}/../other/manifests/2.0.0`, 400],
      [`/v2/${repo.replace('/', '%2F')}/manifests/1.1.0`, 400],
      [`/v2/${repo}/manifests/%2e%2e%2f2.0.0`, 400],
      [`/v2/${repo}/manifests/sha256:xyz`, 400],
      [`/v2/${repo}/manifests/-1`, 400],
      [`/v2/${repo}/blobs/uploads/`, 400],
      [`/v2/${repo}//manifests/1.1.0`, 400],
      ['/../../etc/passwd', 404],
    ] as const) {
      const r = await rawRequest(port, 'GET', path, auth);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(ociError(r.body).code).toMatch(/INVALID|UNKNOWN/);
    }
    const big = await rawRequest(port, 'GET', '/v2/', { ...auth, 'x-filler': 'a'.repeat(64 * 1024) }).catch((e: Error) => ({ status: -1, error: e.message }));
    expect([431, -1]).toContain(big.status);

    const layer = `/v2/${repo}/blobs/${images['1.1.0']!.layerDigest}`;
    const beyond = await get(layer, creds, { range: 'bytes=99999999-' });
    expect(beyond.status).toBe(416);
    const part = await get(layer, creds, { range: 'bytes=0-9' });
    expect(part.status).toBe(206);
    expect(part.body.length).toBe(10);
    expect(part.headers['content-range']).toMatch(/^bytes 0-9\//);

    const deadCreds = await gateCredentials(deadLicense);
    const down = await get(`/v2/acme/${deadApp}/manifests/1.0.0`, deadCreds);
    expect(down.status).toBe(502);
    expect(ociError(down.body).message).toMatch(/unreachable/);
    expect((await get('/v2/', creds)).status).toBe(200);
  }, T);

  /** A license's gate credentials, read from its Secret in the operator's namespace. */
  const gateCredentials = async (name: string) => {
    const secret = await core.readNamespacedSecret({ name: gateCredentialsSecretName(name), namespace: NS });
    const text = (k: string) => Buffer.from(secret.data![k]!, 'base64').toString('utf8');
    return { username: text('username'), password: text('password') };
  };

  it('a tenant cannot read gate credentials, and credentials forged in its own namespace open nothing', async () => {
    const tenant = uniqueName('tenant');
    const as = setHeaderOptions('Impersonate-User', tenant);
    // Everything inside its namespace, nothing outside (as tenant.test.ts grants it).
    await applyObjects(kc, [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: tenant, namespace: customer }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: tenant, namespace: customer },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: tenant },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: tenant }],
      },
    ] as unknown as KubernetesObject[], { fieldManager: 'test' });
    // The real credentials of another license live in the operator's namespace: out of reach.
    await expect(core.readNamespacedSecret({ name: gateCredentialsSecretName(otherLicense), namespace: NS }, as)).rejects.toMatchObject({ code: 403 });
    // A look-alike in the tenant's own namespace is not what the gate reads.
    await eventually(() => core.createNamespacedSecret({
      namespace: customer,
      body: {
        metadata: { name: gateCredentialsSecretName(otherLicense), labels: { [GATE_CREDENTIALS_LABEL]: 'true' }, annotations: { [GATE_LICENSE_ANNOTATION]: otherLicense } },
        type: 'kubernetes.io/basic-auth',
        stringData: { username: otherLicense, password: 'forged-by-tenant' },
      },
    }, as), 10_000);
    const forged = await get(`/v2/${repo}/manifests/2.0.0`, { username: otherLicense, password: 'forged-by-tenant' });
    expect(forged.status).toBe(401);
  }, T);

  it('1,000 random request paths against the gate process: it never crashes, never errs, and never serves what the license does not grant', async () => {
    const spawned: GateProcess = await spawnGate(['--namespace', NS, '--upstream-plain-http', `${registry.server},${deadServer}`]);
    try {
      const creds = await gateCredentials(license);
      const auth = basicAuth(creds.username, creds.password);
      const granted = ['1.1.0', '3.0.0'];
      const servable = new Set<string>([
        ...granted.flatMap((t) => [t, images[t]!.digest, images[t]!.layerDigest]),
        '4.0.0', index.digest, ...index.children.flatMap((c) => [c.digest, c.layerDigest]),
      ]);
      const everything = [...Object.values(images).flatMap((i) => [i.digest, i.layerDigest]), ...servable, '1.0.0', '2.0.0', 'latest', `sha256:${'f'.repeat(64)}`];
      const segment = fc.oneof(
        fc.constantFrom('..', '.', '', '%2e%2e', '%2F', '%00', 'manifests', 'blobs', 'tags', 'list', '_catalog', 'uploads', 'acme', app, deadApp, ...everything),
        fc.string({ maxLength: 10 }).map((s) => encodeURIComponent(s)),
      );
      const path = fc.oneof(
        fc.tuple(fc.array(segment, { maxLength: 6 })).map(([parts]) => `/v2/${parts.join('/')}`),
        fc.tuple(fc.constantFrom('manifests', 'blobs'), fc.constantFrom(...everything)).map(([kind, ref]) => `/v2/${repo}/${kind}/${ref}`),
        fc.tuple(fc.constantFrom('manifests', 'blobs'), fc.constantFrom(...everything), fc.constantFrom('/..', '/../..', '%2f..', '/', '?x=1', '#')).map(([k, r, s]) => `/v2/${repo}/${k}/${r}${s}`),
      );
      const method = fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
      const cases = fc.sample(fc.tuple(method, path), { numRuns: 1000, seed: 20261202 });
      const served: string[] = [];
      const statuses = new Map<number, number>();
      for (const [m, p] of cases) {
        const r = await rawRequest(spawned.port, m, p, auth);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect({ m, p, status: r.status }).not.toMatchObject({ status: 500 });
        const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?#]+)$/.exec(p);
        if (r.status >= 200 && r.status < 300 && match) {
          served.push(p);
          expect({ p, repository: match[1] }).toEqual({ p, repository: repo });
          expect({ p, servable: servable.has(match[3]!) }).toEqual({ p, servable: true });
        }
        if (r.status >= 200 && r.status < 300) expect(['GET', 'HEAD']).toContain(m);
      }
      expect(spawned.child.exitCode).toBeNull();
      expect(served.length).toBeGreaterThan(0); // the fuzz reached real content, not only refusals
      const metrics = await fetch(`http://127.0.0.1:${spawned.metricsPort}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/licensegate_gate_requests_total\{route="manifest",verdict="TagNotGranted"\} \d+/);
      expect(metrics).toMatch(/licensegate_gate_bytes_served_total\{route="blob"\} [1-9]/);
      console.log(`fuzz: ${cases.length} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${served.length} served`);
    } finally {
      await spawned.stop();
    }
  }, 180_000);

  it('expiry + grace stops pulls within 2 s, renewal restores them; suspension likewise', async () => {
    const creds = credsOf(await pullSecret(customer));
    const manifest = () => get(`/v2/${repo}/manifests/1.1.0`, creds).then((r) => r.status);
    expect(await manifest()).toBe(200);
    // Whole seconds: the API carries RFC 3339 with second precision.
    const expiresAt = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000);
    const enforceAt = expiresAt.getTime() + 1000;
    await licensePatch(license, { expiresAt: expiresAt.toISOString().replace('.000Z', 'Z'), gracePeriod: '1s' });
    let refusedAt: number | undefined;
    while (Date.now() < enforceAt + 5000) {
      const status = await manifest();
      if (status !== 200) {
        refusedAt = Date.now();
        expect(status).toBe(403);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(refusedAt).toBeDefined();
    expect(refusedAt! - enforceAt).toBeGreaterThanOrEqual(-100); // not before expiry + grace (clock granularity)
    expect(refusedAt! - enforceAt).toBeLessThanOrEqual(2000);
    const body = await get(`/v2/${repo}/manifests/1.1.0`, creds);
    expect(ociError(body.body).message).toContain('pulls nothing now (Expired)');
    // Blobs stop too.
    expect((await get(`/v2/${repo}/blobs/${images['1.1.0']!.layerDigest}`, creds)).status).toBe(403);

    const renewedAt = Date.now();
    await licensePatch(license, { expiresAt: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    while ((await manifest()) !== 200) {
      expect(Date.now() - renewedAt).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const renewedIn = Date.now() - renewedAt;

    const suspendedAt = Date.now();
    await licensePatch(license, { suspended: true });
    while ((await manifest()) === 200) {
      expect(Date.now() - suspendedAt).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const suspendedIn = Date.now() - suspendedAt;
    const resumedAt = Date.now();
    await licensePatch(license, { suspended: false });
    while ((await manifest()) !== 200) {
      expect(Date.now() - resumedAt).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`expiry: first refusal ${refusedAt! - enforceAt} ms after expiry + grace; renewal served again after ${renewedIn} ms; suspension refused after ${suspendedIn} ms; resumed after ${Date.now() - resumedAt} ms`);
  }, T);

  it('rotation: `licensegate gate rotate` and deleting the Secret both retire the old token at once; the pull secret follows', async () => {
    const before = credsOf(await pullSecret(customer));
    const manifest = (c: { username: string; password: string }) => get(`/v2/${repo}/manifests/1.1.0`, c).then((r) => r.status);
    expect(await manifest(before)).toBe(200);
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gate', 'rotate', license, '--namespace', NS], {
      env: { ...process.env, KUBECONFIG: inject('kubeconfig') },
    });
    expect(stdout).toContain(`rotated gate credentials of license ${license}`);
    const rotatedAt = Date.now();
    while ((await manifest(before)) !== 401) {
      expect(Date.now() - rotatedAt).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = credsOf(await pullSecret(customer, (c) => c.auths[gateHost]?.password !== before.password));
    expect(await manifest(after)).toBe(200);

    await core.deleteNamespacedSecret({ name: gateCredentialsSecretName(license), namespace: NS });
    const recreated = credsOf(await pullSecret(customer, (c) => ![before.password, after.password].includes(c.auths[gateHost]!.password)));
    expect(await manifest(recreated)).toBe(200);
    expect(await manifest(after)).toBe(401);
  }, T);

  it('TLS: the operator issues the gate\'s certificate; skopeo pulls through a TLS gate process, verifying it with ca.crt', async () => {
    const tls = await watchUntil<V1Secret, Record<string, string>>(kc, `/api/v1/namespaces/${NS}/secrets`, (all) => all.find((s) => s.metadata?.name === GATE_TLS_SECRET)?.data, 20_000);
    const text = (k: string) => Buffer.from(tls[k]!, 'base64').toString('utf8');
    const dir = await mkdtemp(join(work, 'tls-'));
    const certDir = join(dir, 'certs');
    await mkdir(certDir);
    await writeFile(join(dir, 'tls.crt'), text('tls.crt'));
    await writeFile(join(dir, 'tls.key'), text('tls.key'));
    await writeFile(join(certDir, 'ca.crt'), text('ca.crt'));
    const spawned = await spawnGate(['--namespace', NS, '--upstream-plain-http', registry.server, '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')], { plainHttp: false });
    try {
      const creds = await gateCredentials(license);
      const ref = `docker://127.0.0.1:${spawned.port}/${repo}:1.1.0`;
      const ok = await skopeo(['inspect', '--cert-dir', certDir, '--creds', `${creds.username}:${creds.password}`, ref]);
      expect(ok.stderr).toBe('');
      expect(JSON.parse(ok.stdout)).toMatchObject({ Digest: images['1.1.0']!.digest });
      // Without the CA, the certificate is not trusted.
      const untrusted = await skopeo(['inspect', '--creds', `${creds.username}:${creds.password}`, ref]);
      expect(untrusted.code).not.toBe(0);
      expect(untrusted.stderr).toMatch(/certificate/);
    } finally {
      await spawned.stop();
    }
  }, T);

  it('deleting a License deletes its gate credentials', async () => {
    const name = gateCredentialsSecretName(deadLicense);
    await watchUntil<V1Secret, true>(kc, `/api/v1/namespaces/${NS}/secrets`, (all) => (all.some((x) => x.metadata?.name === name) ? true : undefined), 20_000);
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: deadLicense });
    await watchUntil<V1Secret, true>(kc, `/api/v1/namespaces/${NS}/secrets`, (all) => (all.some((x) => x.metadata?.name === name) ? undefined : true), 20_000);
  }, T);
});
