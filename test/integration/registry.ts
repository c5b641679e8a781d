/**
 * A real OCI registry for integration tests: Debian's `docker-registry` (distribution 2.8)
 * with htpasswd auth on a loopback port, plain HTTP, and `skopeo` as the client. No Docker
 * engine is involved: test images are written as an OCI image layout by hand and pushed
 * with `skopeo copy`.
 *
 * Facts these helpers rely on (checked against distribution 2.8.2 and skopeo 1.9.3):
 * - `docker-registry serve <config.yml>` takes the config file as its only argument.
 * - The htpasswd access controller re-reads its file whenever the file's mtime changes, so a
 *   password rotation needs no restart. (SIGHUP does not reload: it kills the registry.)
 * - Only bcrypt entries are accepted, hence `htpasswd -B`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const execFileAsync = promisify(execFile);

/** A running registry; `server` is what an Application's `spec.registry.server` names. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry host as image references and docker configs spell it. */
  server: string;
  username: string;
  /** The password the registry currently accepts for `username`. */
  password: string;
  /** Replaces the password in the htpasswd file; the registry picks it up on the next request. */
  setPassword(password: string): Promise<void>;
  /** Kills the registry and removes its storage and config. Safe to call twice. */
  stop(): Promise<void>;
}

/** An image pushed by {@link pushTestImage}. */
export interface PushedImage {
  /** `<server>/<repository>:<tag>`. */
  reference: string;
  /** Digest of the manifest as the registry stores it (what `skopeo inspect` reports). */
  digest: string;
  /** Digest of the single layer blob. */
  layerDigest: string;
}

/** What `skopeo` printed and how it exited; skopeo failing is an expected outcome in tests. */
export interface SkopeoResult {
  code: number;
  stdout: string;
  stderr: string;
}

const STARTUP_TIMEOUT_MS = 10_000;

/** Starts `docker-registry` on a free loopback port with one htpasswd user; resolves once `/v2/` asks for credentials. */
export async function startRegistry(): Promise<TestRegistry> {
  const binary = registryBinary();
  const dir = await mkdtemp(join(tmpdir(), 'licensegate-registry-'));
  const htpasswdPath = join(dir, 'htpasswd');
  const username = `puller-${randomBytes(3).toString('hex')}`;
  let password = randomBytes(12).toString('hex');
  await writeHtpasswd(htpasswdPath, username, password);

  const port = await freePort();
  const server = `127.0.0.1:${port}`;
  const configPath = join(dir, 'config.yml');
  // JSON is YAML: no quoting pitfalls for paths.
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: server, secret: randomBytes(16).toString('hex') },
    auth: { htpasswd: { realm: 'licensegate-test', path: htpasswdPath } },
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await kill(child, exited);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForChallenge(server, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    server,
    username,
    get password() {
      return password;
    },
    async setPassword(next: string) {
      await writeHtpasswd(htpasswdPath, username, next);
      password = next;
    },
    stop,
  };
}

/**
 * Writes a one-layer OCI image layout for `tag` to a temp directory and pushes it to
 * `<server>/<repository>:<tag>` with the registry's credentials.
 */
export async function pushTestImage(registry: TestRegistry, repository: string, tag: string): Promise<PushedImage> {
  const layout = await mkdtemp(join(tmpdir(), 'licensegate-oci-'));
  try {
    const { layerDigest } = await writeOciLayout(layout, tag);
    const reference = `${registry.server}/${repository}:${tag}`;
    const digestFile = join(layout, 'pushed-digest');
    const push = await skopeo([
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${registry.username}:${registry.password}`,
      '--digestfile',
      digestFile,
      `oci:${layout}:${tag}`,
      `docker://${reference}`,
    ]);
    if (push.code !== 0) throw new Error(`skopeo copy to ${reference} failed (exit ${push.code}): ${push.stderr}`);
    const digest = (await readFile(digestFile, 'utf8')).trim();
    return { reference, digest, layerDigest };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

/**
 * Runs skopeo with the system signature policy bypassed (test images are unsigned, and a
 * fresh machine may lack /etc/containers/policy.json). Never throws on a non-zero exit.
 */
export async function skopeo(args: string[], timeoutMs = 20_000): Promise<SkopeoResult> {
  try {
    const { stdout, stderr } = await execFileAsync('skopeo', ['--insecure-policy', ...args], { timeout: timeoutMs, encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    if (typeof e.code !== 'number') throw error; // ENOENT, timeout: not a skopeo verdict
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// --- OCI image layout -------------------------------------------------------------------

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Writes oci-layout, index.json and the blobs of a one-layer linux/amd64 image tagged `tag`. */
async function writeOciLayout(dir: string, tag: string): Promise<{ manifestDigest: string; layerDigest: string }> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const putBlob = async (data: Buffer) => {
    const hex = sha256(data);
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };

  const tar = tarOf('licensegate-test.txt', `licensegate test image ${tag} ${randomBytes(8).toString('hex')}\n`);
  const layer = await putBlob(gzipSync(tar));
  const config = await putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
      }),
    ),
  );
  const manifest = await putBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { manifestDigest: manifest.digest, layerDigest: layer.digest };
}

/** A ustar archive holding one regular file. */
function tarOf(name: string, content: string): Buffer {
  const body = Buffer.from(content, 'utf8');
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) => field(offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, body.length);
  octal(136, 12, 0); // mtime: fixed, the content alone varies
  field(148, 8, '        '); // checksum is computed with its own field as spaces
  field(156, 1, '0'); // regular file
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

// --- process plumbing -------------------------------------------------------------------

/** `docker-registry` (Debian's name) or `registry` (upstream's), whichever is on PATH. */
function registryBinary(): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of ['docker-registry', 'registry']) {
    for (const dir of [...dirs, '/usr/bin']) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  throw new Error('docker-registry not found: install the Debian package docker-registry (test/setup.sh does)');
}

async function writeHtpasswd(path: string, username: string, password: string): Promise<void> {
  // -B: bcrypt, the only hash distribution accepts; -n: print instead of editing a file.
  const { stdout } = await execFileAsync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' });
  await writeFile(path, stdout);
}

/** A port the kernel just handed out on 127.0.0.1 (free now; the registry binds it next). */
async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `GET /v2/` until the registry answers 401 (up and enforcing auth). */
async function waitForChallenge(server: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before serving: ${output()}`);
    }
    try {
      const response = await fetch(`http://${server}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 401) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry on ${server} did not answer 401 on /v2/ within ${STARTUP_TIMEOUT_MS} ms (last: ${last}): ${output()}`);
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
