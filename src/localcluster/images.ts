/**
 * OCI images built on this machine, without pulling anything from outside and without a
 * container engine: one layer holding Debian's static busybox (`busybox-static`) and a link per
 * applet, plus an image config that names the entrypoint and environment. The same layer serves
 * the node's pause image and the test application's versions (they differ in their config, so
 * each tag has its own manifest digest). `skopeo copy` pushes a layout to a registry;
 * `ctr images import` loads its archive into containerd.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const execFileAsync = promisify(execFile);

/** Debian's busybox-static installs here. */
export const BUSYBOX = '/bin/busybox';

/** What goes into an image's config. */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  workingDir?: string;
  user?: string;
}

/** An OCI image layout on disk holding one tagged image. */
export interface ImageLayout {
  dir: string;
  tag: string;
  manifestDigest: string;
}

/** Registry credentials for {@link pushImage}. */
export interface PushCredentials {
  username: string;
  password: string;
}

/**
 * The pause image: PID 1 of every pod sandbox. It only waits, and exits at once on SIGTERM
 * (a bare `sleep` would ignore it as PID 1 and wait for the kill timeout).
 */
export const PAUSE_CONFIG: ImageConfig = {
  entrypoint: ['/bin/sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
};

/**
 * A test application: prints its version, keeps a file on `/data` when a volume is mounted there
 * (written once, then read back on each start, so a test can tell that data survived), serves
 * its version over HTTP on 8080 and stops at once on SIGTERM.
 */
export function testAppConfig(version: string): ImageConfig {
  const script = [
    "trap 'exit 0' TERM INT",
    'echo "licensegate test app $APP_VERSION"',
    'if [ -d /data ]; then [ -f /data/first-start ] || echo "$APP_VERSION $(date +%s)" > /data/first-start; echo "data: $(cat /data/first-start)"; fi',
    'mkdir -p /www && echo "$APP_VERSION" > /www/index.html',
    'httpd -p 8080 -h /www',
    'while :; do sleep 3600 & wait $!; done',
  ].join('\n');
  return {
    entrypoint: ['/bin/sh', '-c', script],
    env: { APP_VERSION: version },
    labels: { 'org.opencontainers.image.version': version },
  };
}

/** Writes a one-layer busybox image tagged `tag` as an OCI image layout in `dir`. */
export async function writeBusyboxImage(dir: string, tag: string, config: ImageConfig): Promise<ImageLayout> {
  const layer = await busyboxLayer();
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const putBlob = async (data: Buffer) => {
    const hex = sha256(data);
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layerBlob = await putBlob(layer.gzipped);
  const configBlob = await putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          Entrypoint: config.entrypoint,
          Cmd: config.cmd,
          Env: ['PATH=/bin', ...Object.entries(config.env ?? {}).map(([k, v]) => `${k}=${v}`)],
          Labels: config.labels,
          WorkingDir: config.workingDir,
          User: config.user,
        },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created_by: 'licensegate localcluster images.ts (busybox-static)' }],
      }),
    ),
  );
  const manifest = await putBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
      }),
    ),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } },
      ],
    }),
  );
  return { dir, tag, manifestDigest: manifest.digest };
}

/** Pushes a layout's image to `reference` (`host:port/repo:tag`, plain HTTP); returns the manifest digest the registry stores. */
export async function pushImage(layout: ImageLayout, reference: string, credentials: PushCredentials): Promise<string> {
  const digestFile = join(layout.dir, 'pushed-digest');
  try {
    await execFileAsync(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${credentials.username}:${credentials.password}`,
        '--digestfile',
        digestFile,
        `oci:${layout.dir}:${layout.tag}`,
        `docker://${reference}`,
      ],
      { timeout: 120_000 },
    );
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`skopeo copy to ${reference} failed: ${e.stderr?.trim() || e.message}`);
  }
  return (await readFile(digestFile, 'utf8')).trim();
}

/** Builds a busybox image in a temp dir and pushes it; the temp dir is removed afterwards. */
export async function buildAndPush(reference: string, config: ImageConfig, credentials: PushCredentials): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'licensegate-image-'));
  try {
    const tag = reference.slice(reference.lastIndexOf(':') + 1);
    return await pushImage(await writeBusyboxImage(dir, tag, config), reference, credentials);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Loads a busybox image into containerd's `k8s.io` namespace (the CRI's) under `name`, so the
 * node never pulls it. `name` must be fully qualified (`host/repo:tag`), as the CRI normalises.
 */
export async function importBusyboxImage(containerdSocket: string, name: string, config: ImageConfig): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'licensegate-image-'));
  try {
    const layout = await writeBusyboxImage(join(dir, 'layout'), name.slice(name.lastIndexOf(':') + 1), config);
    // ctr names an imported OCI archive by this annotation.
    const index = JSON.parse(await readFile(join(layout.dir, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
    index.manifests[0]!.annotations['io.containerd.image.name'] = name;
    await writeFile(join(layout.dir, 'index.json'), JSON.stringify(index));
    const archive = join(dir, 'image.tar');
    await execFileAsync('tar', ['-cf', archive, '-C', layout.dir, '.']);
    // Unpacked into the default snapshotter (overlayfs) on import, ready for the CRI.
    await execFileAsync('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'import', archive], { timeout: 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let cachedLayer: Promise<{ gzipped: Buffer; diffId: string }> | undefined;

/** The busybox layer: `/bin/busybox`, a link per applet, `/tmp`; reproducible (fixed owners and times). */
function busyboxLayer(): Promise<{ gzipped: Buffer; diffId: string }> {
  return (cachedLayer ??= (async () => {
    const root = await mkdtemp(join(tmpdir(), 'licensegate-rootfs-'));
    try {
      await mkdir(join(root, 'bin'));
      await mkdir(join(root, 'tmp'));
      await chmod(join(root, 'tmp'), 0o1777);
      await mkdir(join(root, 'etc'));
      // Some applets (id, whoami) and runc's user lookup read these.
      await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
      await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
      await copyFile(BUSYBOX, join(root, 'bin', 'busybox'));
      await chmod(join(root, 'bin', 'busybox'), 0o755);
      const { stdout } = await execFileAsync(BUSYBOX, ['--list']);
      for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
        await symlink('busybox', join(root, 'bin', applet));
      }
      const { stdout: tar } = await execFileAsync(
        'tar',
        ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix', '--pax-option=delete=atime,delete=ctime', '-C', root, '-cf', '-', '.'],
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      );
      return { gzipped: gzipSync(tar), diffId: `sha256:${sha256(tar)}` };
    } catch (error) {
      cachedLayer = undefined;
      throw error;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  })());
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
