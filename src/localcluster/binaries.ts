import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CONTROLPLANE_DIR, findRepoRoot } from './repo.js';

/** Versions of the control plane the harness runs, read from the Go wrapper modules. */
export interface ControlPlaneVersions {
  /** e.g. `1.33.13` (no leading `v`). */
  kubernetes: string;
  /** e.g. `3.5.21` (no leading `v`). */
  etcd: string;
}

/** Absolute paths of the control-plane executables. */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  /** Present only when it was asked for. */
  kubeControllerManager?: string;
  /** The node's executables: present only when `node` was asked for. */
  kubeScheduler?: string;
  kubelet?: string;
  kubeProxy?: string;
}

/** Which binary names to look for; the names are the ones setup-envtest and the build script use. */
const NAMES = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  kubelet: 'kubelet',
  kubeProxy: 'kube-proxy',
} as const;
type BinaryKey = keyof typeof NAMES;

/** Thrown when the binaries must be built and no `go` toolchain is on PATH. */
export class GoToolchainMissingError extends Error {
  constructor(missing: readonly string[], cacheDir: string) {
    super(
      `control-plane binaries not found (${missing.join(', ')}) and no Go toolchain on PATH to build them. ` +
        `Fix one of: (1) set KUBEBUILDER_ASSETS to a setup-envtest directory ` +
        `(e.g. KUBEBUILDER_ASSETS="$(setup-envtest use 1.33.x -p path)"); ` +
        `(2) install Go >= 1.24 and run test/controlplane/build-binaries.sh once (it fills ${cacheDir}); ` +
        `(3) copy etcd, kube-apiserver and kube-controller-manager into ${cacheDir}; ` +
        `(4) run the integration tests against an existing cluster with KUBECONFIG=... LICENSEGATE_TEST_USE_KUBECONFIG=1.`,
    );
    this.name = 'GoToolchainMissingError';
  }
}

/**
 * Reads the Kubernetes and etcd versions from `test/controlplane/go/{kube,etcd}/go.mod`: the
 * wrapper modules are the one place the versions are written, and build-binaries.sh reads the
 * same lines with the same patterns.
 */
export function readControlPlaneVersions(repoRoot: string = findRepoRoot()): ControlPlaneVersions {
  const goDir = join(repoRoot, CONTROLPLANE_DIR, 'go');
  return {
    kubernetes: requireLine(join(goDir, 'kube', 'go.mod'), /^require k8s\.io\/kubernetes v(\S+)$/m),
    etcd: requireLine(join(goDir, 'etcd', 'go.mod'), /^require go\.etcd\.io\/etcd\/server\/v3 v(\S+)$/m),
  };
}

function requireLine(file: string, pattern: RegExp): string {
  const match = pattern.exec(readFileSync(file, 'utf8'));
  if (!match?.[1]) throw new Error(`${file} has no line matching ${pattern}; build-binaries.sh needs it too`);
  return match[1];
}

/**
 * The version-keyed cache directory, computed exactly as build-binaries.sh does:
 * `${LICENSEGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/licensegate}/k8s-vK-etcd-vE`.
 * (Bash's `:-` also treats an empty variable as unset, hence `||`.)
 */
export function binaryCacheDir(versions: ControlPlaneVersions, env: NodeJS.ProcessEnv = process.env): string {
  const root =
    env['LICENSEGATE_CACHE_DIR'] ||
    join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'licensegate');
  return join(root, `k8s-v${versions.kubernetes}-etcd-v${versions.etcd}`);
}

/** Options for {@link resolveBinaries}. */
export interface ResolveBinariesOptions {
  /** Whether kube-controller-manager is needed (it is not built or looked up otherwise). */
  controllerManager: boolean;
  /** Whether kube-scheduler, kubelet and kube-proxy are needed (built with `build-binaries.sh --node`). */
  node?: boolean;
  env?: NodeJS.ProcessEnv;
  repoRoot?: string;
  /** Builds the missing binaries and returns the directory holding them; defaults to {@link buildBinaries}. */
  build?: (repoRoot: string, cacheDir: string, env: NodeJS.ProcessEnv, node?: boolean) => Promise<string>;
}

/**
 * Finds the control-plane binaries, in order: `KUBEBUILDER_ASSETS` (setup-envtest's layout;
 * etcd and kube-apiserver must be there when it is set, kube-controller-manager may fall
 * through because setup-envtest does not ship it), then the version-keyed cache, then a build
 * from Go modules. Note that a controller-manager from the cache may be a different version
 * than a KUBEBUILDER_ASSETS apiserver; the project pins 1.33 in both places.
 */
export async function resolveBinaries(options: ResolveBinariesOptions): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  const wanted: BinaryKey[] = ['etcd', 'kubeApiserver'];
  if (options.controllerManager) wanted.push('kubeControllerManager');
  if (options.node) wanted.push('kubeScheduler', 'kubelet', 'kubeProxy');
  const found: Partial<Record<BinaryKey, string>> = {};

  const assets = env['KUBEBUILDER_ASSETS'];
  if (assets) {
    for (const key of wanted) {
      const path = join(assets, NAMES[key]);
      if (isExecutable(path)) found[key] = path;
      else if (key === 'etcd' || key === 'kubeApiserver') {
        throw new Error(`KUBEBUILDER_ASSETS=${assets} has no executable ${NAMES[key]}; point it at a setup-envtest directory or unset it`);
      }
    }
  }

  const missing = () => wanted.filter((key) => found[key] === undefined);
  if (missing().length > 0) {
    const repoRoot = options.repoRoot ?? findRepoRoot();
    const cacheDir = binaryCacheDir(readControlPlaneVersions(repoRoot), env);
    takeFrom(cacheDir, missing(), found);
    if (missing().length > 0) {
      const builtDir = await (options.build ?? buildBinaries)(repoRoot, cacheDir, env, options.node ?? false);
      takeFrom(builtDir, missing(), found);
      const still = missing();
      if (still.length > 0) {
        throw new Error(`build finished but ${still.map((k) => NAMES[k]).join(', ')} not found in ${builtDir}`);
      }
    }
  }

  const result: ControlPlaneBinaries = { etcd: found.etcd!, kubeApiserver: found.kubeApiserver! };
  for (const key of ['kubeControllerManager', 'kubeScheduler', 'kubelet', 'kubeProxy'] as const) {
    if (found[key]) result[key] = found[key];
  }
  return result;
}

function takeFrom(dir: string, keys: readonly BinaryKey[], found: Partial<Record<BinaryKey, string>>): void {
  for (const key of keys) {
    const path = join(dir, NAMES[key]);
    if (isExecutable(path)) found[key] = path;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Runs `test/controlplane/build-binaries.sh` (many minutes on a cold Go cache). Its progress on
 * stderr goes straight to the user's terminal; it prints the output directory on stdout.
 */
export async function buildBinaries(repoRoot: string, cacheDir: string, env: NodeJS.ProcessEnv = process.env, node = false): Promise<string> {
  // Checked up front because the script's own failure ("go: command not found") says nothing about the alternatives.
  const go = spawnSync('go', ['version'], { stdio: 'ignore', env });
  if (go.error || go.status !== 0) {
    throw new GoToolchainMissingError(Object.values(NAMES), cacheDir);
  }
  const script = join(repoRoot, CONTROLPLANE_DIR, 'build-binaries.sh');
  process.stderr.write(`licensegate: building control-plane binaries with ${script} (minutes on a cold cache)\n`);
  const child = spawn('bash', [script, ...(node ? ['--node'] : [])], { stdio: ['ignore', 'pipe', 'inherit'], env });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', resolvePromise);
  });
  if (code !== 0) throw new Error(`${script} failed with exit code ${code}; its output is above`);
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error(`${script} printed no output directory`);
  return dir;
}
