/**
 * The gate against an upstream that uses token auth (as Docker Hub, Harbor or GHCR do):
 * Debian's docker-registry configured with `auth: token`, and a small token service that signs
 * ES256 JWTs with an x5c chain the registry trusts. The gate must trade the vendor's
 * credentials for a Bearer token and pull with it; a client never sees either.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type License } from '../../src/api/index.js';
import { startGate, type RunningGate } from '../../src/gate/run.js';
import { applyObjects } from '../../src/kube/apply.js';
import { issueBundle } from '../../src/kube/certs.js';
import { freePort } from '../../src/localcluster/index.js';
import { renderGateCredentials } from '../../src/render/gatecredentials.js';
import { isNotFound, kubeConfig, uniqueName } from './context.js';
import { basicAuth, ociError, rawRequest } from './gate-harness.js';
import { testLog } from './operator-harness.js';
import { pushTestImage, skopeo, type PushedImage, type TestRegistry } from './registry.js';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const NS = 'licensegate-system';
const VENDOR = { username: 'vendor', password: randomBytes(8).toString('hex') };
const SERVICE = 'lg-token-registry';
const ISSUER = 'lg-token-issuer';

describe('registry gate in front of a token-auth registry', () => {
  const app = uniqueName('tok-app');
  const customer = uniqueName('tok-cust');
  const license = uniqueName('tok-lic');
  const creds = uniqueName('tok-upstream');
  const repo = `acme/${app}`;
  let dir: string;
  let tokenServer: Server;
  let registry: ChildProcess | undefined;
  let registryHost: string;
  let gate: RunningGate | undefined;
  let gatePort: number;
  let tokensIssued = 0;
  let image: PushedImage;
  const token = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'licensegate-token-registry-'));
    const bundle = await issueBundle({ hosts: ['127.0.0.1'], now: new Date() });
    await writeFile(join(dir, 'root.pem'), bundle.caCert);
    const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');
    const x5c = [der(bundle.cert), der(bundle.caCert)];
    const key = await importPKCS8(bundle.key, 'ES256');

    // The token service: Basic credentials in, a JWT granting the requested actions out.
    tokenServer = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const expected = `Basic ${Buffer.from(`${VENDOR.username}:${VENDOR.password}`).toString('base64')}`;
        if (req.headers.authorization !== expected) return res.writeHead(401).end();
        const access = url.searchParams.getAll('scope').map((scope) => {
          const [type, name, actions] = scope.split(':');
          return { type, name, actions: (actions ?? '').split(',') };
        });
        const jwt = await new SignJWT({ access })
          .setProtectedHeader({ alg: 'ES256', x5c })
          .setIssuer(ISSUER)
          .setAudience(url.searchParams.get('service') ?? '')
          .setSubject(VENDOR.username)
          .setIssuedAt()
          .setNotBefore(Math.floor(Date.now() / 1000) - 10)
          .setExpirationTime('5m')
          .setJti(randomBytes(8).toString('hex'))
          .sign(key);
        tokensIssued++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: jwt, expires_in: 300 }));
      })();
    });
    const tokenPort = await freePort();
    await new Promise<void>((resolve) => tokenServer.listen(tokenPort, '127.0.0.1', resolve));

    registryHost = `127.0.0.1:${await freePort()}`;
    const config = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') } },
      http: { addr: registryHost, secret: randomBytes(16).toString('hex') },
      auth: { token: { realm: `http://127.0.0.1:${tokenPort}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: join(dir, 'root.pem') } },
    };
    await writeFile(join(dir, 'config.yml'), JSON.stringify(config));
    registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`http://${registryHost}/v2/`).catch(() => undefined);
      if (r?.status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Push the way the vendor would: skopeo doing the token dance itself.
    const upstream: TestRegistry = { server: registryHost, ...VENDOR, setPassword: async () => {}, stop: async () => {} };
    image = await pushTestImage(upstream, repo, '1.0.0');
    await pushTestImage(upstream, repo, '2.0.0');

    gatePort = await freePort();
    const gateHost = `127.0.0.1:${gatePort}`;
    const licenseObject = { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'] } };
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: creds, namespace: NS }, type: 'kubernetes.io/basic-auth', stringData: VENDOR },
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name: app },
        spec: { images: [`${gateHost}/${repo}`], versions: [{ version: '1.0.0' }, { version: '2.0.0' }], registry: { server: registryHost, credentialsSecret: { namespace: NS, name: creds }, gate: { host: gateHost } } },
      },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { namespaces: [customer] } },
      licenseObject,
    ] as KubernetesObject[], { fieldManager: 'test' });
    // No operator here: the gate credentials Secret as the operator renders it.
    await applyObjects(kc, [renderGateCredentials(licenseObject as License, NS, token) as KubernetesObject], { fieldManager: 'test' });
    gate = await startGate({ kc, namespace: NS, host: '127.0.0.1', port: gatePort, plainHttpUpstreams: [registryHost], log: testLog });
  }, 60_000);

  afterAll(async () => {
    await gate?.close(0);
    registry?.kill('SIGTERM');
    tokenServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    const ignore = (e: unknown) => {
      if (!isNotFound(e)) throw e;
    };
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license }).catch(ignore);
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: customer }).catch(ignore);
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'applications', name: app }).catch(ignore);
    await core.deleteNamespacedSecret({ name: creds, namespace: NS }).catch(ignore);
  });

  it('the gate trades the vendor credentials for a Bearer token and serves a granted tag; the client needs only its gate credentials', async () => {
    const before = tokensIssued;
    const ref = `docker://127.0.0.1:${gatePort}/${repo}:1.0.0`;
    const inspected = await skopeo(['inspect', '--tls-verify=false', '--creds', `${license}:${token}`, ref]);
    expect(inspected.stderr).toBe('');
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: image.digest, Layers: [image.layerDigest] });
    const out = join(dir, 'pulled');
    const copied = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${license}:${token}`, ref, `dir:${out}`]);
    expect(copied.stderr).toBe('');
    expect(tokensIssued).toBeGreaterThan(before);

    const refused = await rawRequest(gatePort, 'GET', `/v2/${repo}/manifests/2.0.0`, basicAuth(license, token));
    expect(refused.status).toBe(403);
    expect(ociError(refused.body).code).toBe('DENIED');
    // The upstream still refuses anyone without a token: the gate's is not handed out.
    expect((await fetch(`http://${registryHost}/v2/${repo}/manifests/1.0.0`)).status).toBe(401);
  }, 60_000);
});
