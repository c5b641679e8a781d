import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { NodeHost } from './node-record.js';

/** File names inside the state directory (see `stateDir()` in repo.ts). */
export const STATE_FILE = 'cluster.json';
export const KUBECONFIG_FILE = 'kubeconfig';

/** What `cluster:up` records so that `cluster:down`, another process, can stop the cluster. */
export const ClusterState = z.object({
  /** The cluster's temp dir; every process's command line mentions it. */
  dir: z.string(),
  kubeconfigPath: z.string(),
  server: z.string(),
  pids: z.array(z.number().int().positive()),
  startedAt: z.string(),
  /** With `--node`: the registry the node pulls from; these credentials push and pull. */
  registry: z.object({ host: z.string(), username: z.string(), password: z.string() }).optional(),
  /** With `--node`: what the node set up on the machine, for `down` to take back. */
  node: NodeHost.extend({ name: z.string(), kubeProxy: z.string().optional() }).optional(),
});
/** See {@link ClusterState}. */
export type ClusterState = z.infer<typeof ClusterState>;

/** Reads `<stateDir>/cluster.json`; undefined when there is none. */
export function readClusterState(stateDir: string): ClusterState | undefined {
  const file = join(stateDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  const parsed = ClusterState.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file} is not a licensegate cluster state file (${parsed.error.message}); stop the processes yourself and delete it`);
  }
  return parsed.data;
}

/** Writes `<stateDir>/cluster.json`, creating the directory. */
export function writeClusterState(stateDir: string, state: ClusterState): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the state file and the kubeconfig next to it; missing files are fine. */
export function removeClusterState(stateDir: string): void {
  rmSync(join(stateDir, STATE_FILE), { force: true });
  rmSync(join(stateDir, KUBECONFIG_FILE), { force: true });
}
