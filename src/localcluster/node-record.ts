/**
 * The machine-wide record of the node that runs (or ran) here. kube-proxy's chains have fixed
 * names, so two nodes on one machine would fight over them: the record lets one node run at a
 * time, and lets `cluster:down` (or the next start) clean up after a node whose processes died.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/** The machine-wide record of the node that runs (or ran) here. */
export const NODE_RECORD_FILE = process.env['LICENSEGATE_NODE_RECORD'] ?? '/run/licensegate-node.json';

/** Names and addresses one node uses on the machine. */
export const NodeHost = z.object({
  /** The cluster's temp dir: every node process's command line and every node mount mentions it. */
  dir: z.string(),
  /** The pod network's gateway on the bridge, also the node's InternalIP and the apiserver's address. */
  nodeIp: z.string(),
  podSubnet: z.string(),
  bridgeName: z.string(),
  networkName: z.string(),
});
export type NodeHost = z.infer<typeof NodeHost>;

export function readNodeRecord(): NodeHost | undefined {
  if (!existsSync(NODE_RECORD_FILE)) return undefined;
  const parsed = NodeHost.safeParse(JSON.parse(readFileSync(NODE_RECORD_FILE, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function writeNodeRecord(host: NodeHost): void {
  writeFileSync(NODE_RECORD_FILE, `${JSON.stringify(host, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the record if it is this node's. */
export function removeNodeRecord(dir: string): void {
  if (readNodeRecord()?.dir === dir) rmSync(NODE_RECORD_FILE, { force: true });
}
