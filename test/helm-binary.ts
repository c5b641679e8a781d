/**
 * The helm binary for tests: HELM_BIN, else the version-keyed cache that
 * test/controlplane/build-helm.sh fills (npm test's pretest runs it), else helm on PATH.
 * Tests that need helm fail with this message instead of skipping silently.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const script = join(import.meta.dirname, 'controlplane', 'build-helm.sh');

/** The helm version build-helm.sh pins. */
export const HELM_VERSION = /^helm_version="(v[^"]+)"/m.exec(readFileSync(script, 'utf8'))?.[1] ?? '';

/** Path of a helm binary, or an Error saying how to get one. */
export function helmBinary(): string {
  const fromEnv = process.env['HELM_BIN'];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const cacheRoot = process.env['LICENSEGATE_CACHE_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'licensegate');
  const cached = join(cacheRoot, `helm-${HELM_VERSION}`, 'helm');
  if (existsSync(cached)) return cached;
  try {
    execFileSync('helm', ['version', '--short'], { stdio: 'ignore' });
    return 'helm';
  } catch {
    throw new Error(
      `helm is needed by this test and was not found (HELM_BIN, ${cached}, PATH). ` +
        'Build it with `bash test/controlplane/build-helm.sh` (npm test runs it first; a cold build takes minutes) or set HELM_BIN.',
    );
  }
}

/** Runs helm with `args`; returns stdout, or throws with helm's stderr. */
export function helm(args: string[], options: { env?: Record<string, string>; input?: string } = {}): string {
  try {
    return execFileSync(helmBinary(), args, {
      encoding: 'utf8',
      env: { ...process.env, ...options.env },
      input: options.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
