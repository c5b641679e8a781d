/**
 * The local cluster's image registry: Debian's `docker-registry` (distribution 2.8) with one
 * htpasswd user, plain HTTP on a loopback port, storage under the cluster's temp dir. The node
 * pulls from it only with credentials (a pull secret), which is what the product hands out.
 * `docker-registry serve <config>` takes the config as its only argument; only bcrypt
 * htpasswd entries are accepted (`htpasswd -B`).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import type { LoggedProcess } from './processes.js';
import { probe, waitUntilReady } from './readiness.js';

const execFileAsync = promisify(execFile);

/** Where the registry is and who may push to it (recorded in `.licensegate/cluster.json`). */
export interface LocalRegistry {
  /** `127.0.0.1:PORT`: what image references and docker configs name. */
  host: string;
  username: string;
  password: string;
}

type Start = (name: string, binary: string, args: string[]) => LoggedProcess;

/** Starts the registry; resolves once `/v2/` asks for credentials (up and enforcing auth). */
export async function startRegistry(start: Start, dir: string, timeoutMs: number): Promise<LocalRegistry> {
  const root = join(dir, 'registry');
  mkdirSync(root, { recursive: true });
  const username = 'licensegate';
  const password = randomBytes(16).toString('hex');
  const htpasswdPath = join(root, 'htpasswd');
  const { stdout } = await execFileAsync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' });
  writeFileSync(htpasswdPath, stdout, { mode: 0o600 });
  const host = `127.0.0.1:${await freePort()}`;
  const configPath = join(root, 'config.yml');
  // JSON is YAML: no quoting pitfalls for paths.
  writeFileSync(
    configPath,
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(root, 'data') }, delete: { enabled: true } },
      http: { addr: host, secret: randomBytes(16).toString('hex') },
      auth: { htpasswd: { realm: 'licensegate-local', path: htpasswdPath } },
    }),
  );
  const registry = start('registry', registryBinary(), ['serve', configPath]);
  await waitUntilReady({
    what: 'registry /v2/ (401)',
    process: registry,
    timeoutMs,
    check: async () => (await probe(`http://${host}/v2/`)).status === 401,
  });
  return { host, username, password };
}

/** `docker-registry` (Debian's name) or `registry` (upstream's). */
export function registryBinary(): string {
  for (const path of ['/usr/bin/docker-registry', '/usr/local/bin/registry', '/usr/bin/registry']) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error('docker-registry not found: install the Debian package docker-registry (test/setup.sh does)');
}
