/**
 * Registry gate benchmark (not a test): what pulling through the gate costs next to pulling
 * from the upstream registry directly.
 *
 *   npm run bench:gate [-- --requests 500 --blob-mib 256 --pulls 50]
 *
 * Starts a local control plane (for the gate's informers), Debian's docker-registry with
 * htpasswd as the upstream, and the gate as its own process (`licensegate gate`, plain HTTP on
 * loopback, like the upstream). Measures, side by side:
 * - manifest HEAD and GET latency (sequential, kept-alive connections, batches alternating
 *   between gate and direct so both see the same machine load);
 * - throughput of one large blob (streamed and discarded);
 * - N concurrent pulls of different granted tags (manifest, config and layer each), with the
 *   gate's resident memory sampled throughout.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Pool } from 'undici';
import { API_VERSION } from '../src/api/index.js';
import { applyObjects } from '../src/kube/apply.js';
import { installCrds } from '../src/kube/crds.js';
import { freePort, startLocalCluster } from '../src/localcluster/index.js';
import { GATE_NODE_FLAGS } from '../src/manifests/names.js';
import { renderGateCredentials } from '../src/render/gatecredentials.js';
import { pushTestImage, skopeo, startRegistry, type TestRegistry } from '../test/integration/registry.js';
import { memory } from './lib/proc.js';
import { quantile, table } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '500' },
    'blob-mib': { type: 'string', default: '256' },
    pulls: { type: 'string', default: '50' },
  },
});
const REQUESTS = Number(values.requests);
const BLOB_MIB = Number(values['blob-mib']);
const PULLS = Number(values.pulls);
const NS = 'licensegate-system';
/** Node flags of the gate process: the chart's, unless GATE_NODE_FLAGS says otherwise. */
const NODE_FLAGS = process.env.GATE_NODE_FLAGS === undefined ? GATE_NODE_FLAGS : process.env.GATE_NODE_FLAGS.split(' ').filter(Boolean);
const REPO = 'acme/bench';
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** One endpoint to pull from: a kept-alive pool and its credentials. */
interface Endpoint {
  name: string;
  pool: Pool;
  auth: string;
}

async function send(e: Endpoint, method: 'GET' | 'HEAD', path: string, accept?: string): Promise<{ status: number; bytes: number; body?: Buffer }> {
  const r = await e.pool.request({ method, path, headers: { authorization: e.auth, ...(accept ? { accept } : {}) } });
  if (method === 'HEAD') {
    await r.body.dump();
    return { status: r.statusCode, bytes: 0 };
  }
  if (path.includes('/manifests/')) {
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, bytes: body.length, body };
  }
  let bytes = 0;
  for await (const chunk of r.body) bytes += (chunk as Buffer).length;
  return { status: r.statusCode, bytes };
}

async function expectOk(p: Promise<{ status: number; bytes: number; body?: Buffer }>, what: string) {
  const r = await p;
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status}`);
  return r;
}

/** Sequential latency samples (ms), alternating batches of 50 between endpoints. */
async function latency(endpoints: Endpoint[], method: 'GET' | 'HEAD', path: string): Promise<Map<string, number[]>> {
  const samples = new Map(endpoints.map((e) => [e.name, [] as number[]]));
  for (const e of endpoints) for (let i = 0; i < 20; i++) await expectOk(send(e, method, path, MANIFEST_ACCEPT), 'warm-up');
  for (let done = 0; done < REQUESTS; done += 50) {
    for (const e of endpoints) {
      for (let i = 0; i < Math.min(50, REQUESTS - done); i++) {
        const started = performance.now();
        await expectOk(send(e, method, path, MANIFEST_ACCEPT), `${e.name} ${method} ${path}`);
        samples.get(e.name)!.push(performance.now() - started);
      }
    }
  }
  return samples;
}

/** A one-layer image whose layer is `mib` MiB of random bytes, pushed as `tag`. */
async function pushBigImage(registry: TestRegistry, tag: string, mib: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'licensegate-bench-oci-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const tmp = join(blobs, 'layer.tmp');
    const hash = createHash('sha256');
    const out = createWriteStream(tmp);
    for (let i = 0; i < mib; i++) {
      const chunk = randomBytes(1024 * 1024);
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const layerHex = hash.digest('hex');
    await rename(tmp, join(blobs, layerHex));
    const put = async (data: Buffer) => {
      const hex = createHash('sha256').update(data).digest('hex');
      await writeFile(join(blobs, hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] } })));
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerHex}`, size: mib * 1024 * 1024 }],
        }),
      ),
    );
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
    const push = await skopeo(['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${registry.username}:${registry.password}`, `oci:${dir}:${tag}`, `docker://${registry.server}/${REPO}:${tag}`], 300_000);
    if (push.code !== 0) throw new Error(`push of the big image failed: ${push.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One pull the way a client does it: manifest, then config and layers. */
async function pull(e: Endpoint, tag: string): Promise<number> {
  const m = await expectOk(send(e, 'GET', `/v2/${REPO}/manifests/${tag}`, MANIFEST_ACCEPT), `${e.name} manifest ${tag}`);
  const manifest = JSON.parse(m.body!.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  let bytes = m.bytes;
  for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) bytes += (await expectOk(send(e, 'GET', `/v2/${REPO}/blobs/${d}`), `${e.name} blob ${d}`)).bytes;
  return bytes;
}

async function main(): Promise<void> {
  const cluster = await startLocalCluster({ controllerManager: false });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  let registry: TestRegistry | undefined;
  let gatePid: number | undefined;
  let stopGate = async () => {};
  try {
    await installCrds(kc);
    registry = await startRegistry();
    console.error(`pushing ${PULLS} small images and one ${BLOB_MIB} MiB image…`);
    const tags = Array.from({ length: PULLS }, (_, i) => `1.${i}.0`);
    for (const tag of tags) await pushTestImage(registry, REPO, tag);
    await pushBigImage(registry, '9.0.0', BLOB_MIB);

    const gatePort = await freePort();
    const gateHost = `127.0.0.1:${gatePort}`;
    const license = {
      apiVersion: API_VERSION,
      kind: 'License',
      metadata: { name: 'bench' },
      spec: { customer: 'bench', application: 'bench', versions: ['*'] },
    };
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'upstream', namespace: NS }, type: 'kubernetes.io/basic-auth', stringData: { username: registry.username, password: registry.password } },
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name: 'bench' },
        spec: {
          images: [`${gateHost}/${REPO}`],
          versions: [...tags, '9.0.0'].map((version) => ({ version })),
          registry: { server: registry.server, credentialsSecret: { namespace: NS, name: 'upstream' }, gate: { host: gateHost } },
        },
      },
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: 'bench' }, spec: {} },
      license,
    ] as KubernetesObject[]);
    const token = randomBytes(32).toString('base64url');
    await applyObjects(kc, [renderGateCredentials(license as never, NS, token) as KubernetesObject]);

    // The gate runs compiled, as in the image (tsx's transpiler would add its own memory).
    console.error('building…');
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
    const child = spawn(process.execPath, [...NODE_FLAGS, 'dist/src/gate/main.js', '--listen', gateHost, '--plain-http', '--metrics-port', '0', '--log-level', 'warn', '--namespace', NS, '--upstream-plain-http', registry.server], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    gatePid = child.pid;
    const exited = new Promise((r) => child.once('exit', r));
    stopGate = async () => {
      child.kill('SIGTERM');
      await exited;
    };
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => c.toString().includes('"gate":"serving"') && resolve());
      child.once('exit', (code) => reject(new Error(`gate exited ${code}`)));
    });

    const rssAt: [string, number][] = [['started', memory(gatePid!)?.rss ?? 0]];
    const direct: Endpoint = { name: 'direct', pool: new Pool(`http://${registry.server}`, { connections: 64 }), auth: basic(registry.username, registry.password) };
    const gate: Endpoint = { name: 'gate', pool: new Pool(`http://${gateHost}`, { connections: 64 }), auth: basic('bench', token) };
    const both = [direct, gate];
    const rows: string[][] = [['measure', 'direct', 'through gate', 'difference']];
    const latencyRows = (label: string, s: Map<string, number[]>) => {
      for (const q of [0.5, 0.99]) {
        const d = quantile(s.get('direct')!, q);
        const g = quantile(s.get('gate')!, q);
        rows.push([`${label} p${q * 100}`, `${d.toFixed(2)} ms`, `${g.toFixed(2)} ms`, `+${(g - d).toFixed(2)} ms`]);
      }
    };
    console.error('manifest latency…');
    latencyRows(`manifest HEAD (n=${REQUESTS})`, await latency(both, 'HEAD', `/v2/${REPO}/manifests/1.0.0`));
    latencyRows(`manifest GET (n=${REQUESTS})`, await latency(both, 'GET', `/v2/${REPO}/manifests/1.0.0`));

    rssAt.push(['after manifest latency', memory(gatePid!)?.rss ?? 0]);
    console.error('blob throughput…');
    await expectOk(send(gate, 'GET', `/v2/${REPO}/manifests/9.0.0`, MANIFEST_ACCEPT), 'big manifest');
    // skopeo may have recompressed the layer on push: take the layer the registry holds.
    const stored = JSON.parse((await expectOk(send(direct, 'GET', `/v2/${REPO}/manifests/9.0.0`, MANIFEST_ACCEPT), 'big manifest')).body!.toString('utf8')) as { layers: { digest: string; size: number }[] };
    const bigLayer = stored.layers[0]!.digest;
    const bigSize = stored.layers[0]!.size;
    const throughput = new Map<string, number[]>(both.map((e) => [e.name, []]));
    for (let run = 0; run < 3; run++) {
      for (const e of both) {
        const started = performance.now();
        const { bytes } = await expectOk(send(e, 'GET', `/v2/${REPO}/blobs/${bigLayer}`), `${e.name} big blob`);
        if (bytes !== bigSize) throw new Error(`${e.name}: got ${bytes} bytes of ${bigSize}`);
        throughput.get(e.name)!.push(bytes / 2 ** 20 / ((performance.now() - started) / 1000));
      }
    }
    const d = quantile(throughput.get('direct')!, 0.5);
    const g = quantile(throughput.get('gate')!, 0.5);
    rows.push([`${(bigSize / 2 ** 20).toFixed(0)} MiB blob (median of 3)`, `${d.toFixed(0)} MiB/s`, `${g.toFixed(0)} MiB/s`, `${((g / d) * 100).toFixed(0)} % of direct`]);

    rssAt.push(['after blob throughput', memory(gatePid!)?.rss ?? 0]);
    console.error(`${PULLS} concurrent pulls…`);
    let peak = memory(gatePid!)?.rss ?? 0;
    const sampler = setInterval(() => (peak = Math.max(peak, memory(gatePid!)?.rss ?? 0)), 20);
    const concurrent = async (e: Endpoint) => {
      const started = performance.now();
      const results = await Promise.allSettled(tags.map((t) => pull(e, t)));
      const failed = results.filter((r) => r.status === 'rejected');
      return { ms: performance.now() - started, failed: failed.length, first: failed[0] && (failed[0] as PromiseRejectedResult).reason };
    };
    const directPulls = await concurrent(direct);
    const gatePulls = await concurrent(gate);
    clearInterval(sampler);
    rows.push([`${PULLS} concurrent pulls, wall time`, `${directPulls.ms.toFixed(0)} ms`, `${gatePulls.ms.toFixed(0)} ms`, `errors: direct ${directPulls.failed}, gate ${gatePulls.failed}`]);
    const mem = memory(gatePid!);
    rows.push(['gate RSS: ' + rssAt.map(([w]) => w).join(' / '), '', rssAt.map(([, b]) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(' / '), '']);
    rows.push(['gate RSS: during pulls (peak) / process high-water', '', `${(peak / 2 ** 20).toFixed(0)} MiB / ${((mem?.hwm ?? 0) / 2 ** 20).toFixed(0)} MiB`, 'goal ≤ 150 MiB']);
    if (gatePulls.first) console.error('first gate pull error:', gatePulls.first);

    console.log(`\nregistry gate benchmark (${new Date().toISOString()}, ${REQUESTS} requests per latency figure; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; gate node flags: ${NODE_FLAGS.join(' ') || 'none'})\n`);
    console.log(table(rows));
    await direct.pool.close();
    await gate.pool.close();
  } finally {
    await stopGate();
    await registry?.stop();
    await cluster.stop();
  }
}

await main();
