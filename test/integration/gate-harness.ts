/**
 * Helpers of the registry gate's integration tests: a multi-architecture image (an OCI index
 * of two images) pushed with skopeo, the gate run as its own process through the CLI, and raw
 * HTTP requests that no client library normalises (paths with "..", odd methods, big headers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { inject } from 'vitest';
import { skopeo, type TestRegistry } from './registry.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface PushedIndex {
  digest: string;
  children: { digest: string; layerDigest: string }[];
}

/** Pushes `<server>/<repository>:<tag>` as an OCI index of a linux/amd64 and a linux/arm64 image. */
export async function pushIndexImage(registry: TestRegistry, repository: string, tag: string): Promise<PushedIndex> {
  const dir = await mkdtemp(join(tmpdir(), 'licensegate-oci-index-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const put = async (data: Buffer) => {
      const hex = sha256(data);
      await writeFile(join(blobs, hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const children: PushedIndex['children'] = [];
    const entries = [];
    for (const architecture of ['amd64', 'arm64']) {
      const raw = Buffer.from(`${architecture} ${tag} ${randomBytes(16).toString('hex')}`);
      const layer = await put(gzipSync(raw));
      const config = await put(Buffer.from(JSON.stringify({ architecture, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(raw)}`] } })));
      const manifest = await put(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
          }),
        ),
      );
      children.push({ digest: manifest.digest, layerDigest: layer.digest });
      entries.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture, os: 'linux' } });
    }
    const index = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries })));
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
    );
    const digestFile = join(dir, 'pushed-digest');
    const push = await skopeo([
      'copy', '--all', '--quiet', '--dest-tls-verify=false',
      '--dest-creds', `${registry.username}:${registry.password}`,
      '--digestfile', digestFile,
      `oci:${dir}:${tag}`, `docker://${registry.server}/${repository}:${tag}`,
    ]);
    if (push.code !== 0) throw new Error(`skopeo copy --all failed: ${push.stderr}`);
    return { digest: (await readFile(digestFile, 'utf8')).trim(), children };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request with the path sent exactly as given. Never throws on a status. */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export const basicAuth = (username: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });

/** The OCI error code and message of a refusal body. */
export function ociError(body: Buffer): { code: string; message: string } {
  const parsed = JSON.parse(body.toString('utf8')) as { errors: { code: string; message: string }[] };
  return parsed.errors[0]!;
}

export interface GateProcess {
  port: number;
  metricsPort: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Runs `licensegate gate` as its own process (plain HTTP on loopback unless told otherwise), against the test cluster. */
export async function spawnGate(args: string[], options: { plainHttp?: boolean } = {}): Promise<GateProcess> {
  const plain = options.plainHttp ?? true ? ['--plain-http'] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gate', '--listen', '127.0.0.1:0', ...plain, '--metrics-port', '0', '--log-level', 'warn', ...args], {
    env: { ...process.env, KUBECONFIG: inject('kubeconfig') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gate did not start: ${output}`)), 30_000);
    const check = () => {
      const line = output.split('\n').find((l) => l.startsWith('{"gate":"serving"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; metricsPort: number });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`gate exited with ${code}: ${output}`)));
  });
  return {
    ...started,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
