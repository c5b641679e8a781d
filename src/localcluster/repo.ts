import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the Go wrapper modules and the build script live, relative to the repository root. */
export const CONTROLPLANE_DIR = join('test', 'controlplane');

/**
 * The repository root: the nearest ancestor of this module that holds the control-plane build
 * files. Walking up (instead of a fixed `../..`) keeps it right both under tsx (`src/…`) and
 * from a compiled `dist/src/…`.
 */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, CONTROLPLANE_DIR, 'build-binaries.sh'))) return dir;
    if (dirname(dir) === dir) {
      throw new Error(
        `cannot find the licensegate repository above ${start}: ` +
          `no ${join(CONTROLPLANE_DIR, 'build-binaries.sh')} in any parent directory`,
      );
    }
  }
}

/**
 * Directory for the CLI-managed cluster's state and kubeconfig: `LICENSEGATE_STATE_DIR`, else
 * `<repo>/.licensegate` (git-ignored).
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['LICENSEGATE_STATE_DIR'];
  return fromEnv ? resolve(fromEnv) : join(findRepoRoot(), '.licensegate');
}
