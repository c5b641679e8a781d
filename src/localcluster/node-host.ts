/**
 * What a node changes on the machine outside its temp dir, and how to take it back: the CNI
 * bridge (created up front, carrying the node address), iptables chains (kube-proxy's `KUBE-*`,
 * the bridge plugin's `CNI-*`), mounts (kubelet's root bind mount, container root filesystems,
 * pod network namespaces and volumes: all under the temp dir), container processes and their
 * containerd shims, kubelet's log links in /var/log/containers.
 *
 * kube-proxy's chains have fixed names, so two nodes on one machine would fight over them: a
 * machine-wide record ({@link NODE_RECORD_FILE}) lets one node run at a time, and lets
 * `cluster:down` (or the next start) clean up after a node whose processes died.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { nodePaths } from './node-config.js';
import { commandLineMentions, isAlive } from './processes.js';

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

/** What a node needs on the machine, by path, with the Debian package that provides it. */
const PREREQUISITES: [path: string, debianPackage: string][] = [
  ['/usr/bin/containerd', 'containerd'],
  ['/usr/bin/ctr', 'containerd'],
  ['/usr/sbin/runc', 'runc'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
  ['/usr/sbin/iptables', 'iptables'],
  ['/usr/sbin/ip', 'iproute2'],
  ['/bin/busybox', 'busybox-static'],
  ['/usr/bin/docker-registry', 'docker-registry'],
  ['/usr/bin/htpasswd', 'apache2-utils'],
];

/**
 * Why a node cannot run here, or undefined when it can: Linux, root (network interfaces,
 * iptables, mounts) and the Debian packages test/setup.sh installs.
 */
export function nodeUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `a node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'a node needs root: it creates a bridge, iptables rules and mounts';
  const missing = PREREQUISITES.filter(([path]) => !existsSync(path)).map(([path, pkg]) => `${path} (Debian package ${pkg})`);
  if (missing.length > 0) return `a node needs ${missing.join(', ')}; test/setup.sh installs them`;
  return undefined;
}

/** Picks names and free addresses for a node in `dir`: pods 10.244.N.0/24, the node (bridge) 10.244.N.1. */
export function allocateNodeHost(dir: string): NodeHost {
  const used = execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' }) + execFileSync('ip', ['route'], { encoding: 'utf8' });
  const id = randomBytes(3).toString('hex');
  for (let attempt = 0; attempt < 50; attempt++) {
    const n = 1 + Math.floor(Math.random() * 250);
    if (used.includes(`10.244.${n}.`)) continue;
    return {
      dir,
      nodeIp: `10.244.${n}.1`,
      podSubnet: `10.244.${n}.0/24`,
      bridgeName: `lgbr${id}`,
      networkName: `licensegate-${id}`,
    };
  }
  throw new Error('no free 10.244.N.0/24 pod subnet on this machine');
}

/**
 * Claims the machine for this node, cleaning up after a recorded node whose processes are all
 * gone; refuses when a recorded node still runs, or when kube-proxy chains of someone else exist.
 */
export function claimMachine(host: NodeHost): void {
  const previous = readNodeRecord();
  if (previous) {
    if (nodeProcesses(previous.dir).length > 0) {
      throw new Error(
        `a licensegate node already runs on this machine (cluster dir ${previous.dir}); ` +
          'kube-proxy chains have fixed names, so only one node can run at a time. Stop it first (npm run cluster:down)',
      );
    }
    cleanUpNodeHost(previous);
  }
  if (iptablesChains().some((chain) => chain.startsWith('KUBE-'))) {
    throw new Error('iptables already has KUBE-* chains (another kube-proxy or kubelet on this machine?): refusing to start a node beside it');
  }
  writeFileSync(NODE_RECORD_FILE, `${JSON.stringify(host, null, 2)}\n`, { mode: 0o600 });
}

export function readNodeRecord(): NodeHost | undefined {
  if (!existsSync(NODE_RECORD_FILE)) return undefined;
  const parsed = NodeHost.safeParse(JSON.parse(readFileSync(NODE_RECORD_FILE, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

/**
 * The bridge with the node address, and the kernel settings pods need to reach services. The
 * node needs an address that is not loopback before the kubelet starts (kubelet refuses
 * 127.0.0.1, and pods would reach their own loopback there); these kernels have no `dummy`
 * link type, so the address goes on the CNI bridge as its gateway address, which the bridge
 * plugin then finds in place. The host reaches its own address whether or not a pod is attached.
 */
export function setUpNodeHost(host: NodeHost): void {
  const prefix = host.podSubnet.split('/')[1];
  run('ip', ['link', 'add', host.bridgeName, 'type', 'bridge']);
  run('ip', ['addr', 'add', `${host.nodeIp}/${prefix}`, 'dev', host.bridgeName]);
  run('ip', ['link', 'set', host.bridgeName, 'up']);
  // Machine-wide and left as set (a later node needs them too): routing for pods, and bridged
  // pod-to-service traffic through iptables (br_netfilter is built into these kernels).
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
}

/**
 * Takes back everything {@link NodeHost} names. Safe to call twice and on a half-started node.
 * `kubeProxy` (the binary) runs `kube-proxy --cleanup` first when given.
 */
export function cleanUpNodeHost(host: NodeHost, kubeProxy?: string): void {
  killNodeProcesses(host.dir);
  unmountUnder(host.dir);
  removeRuntimeFiles(host);
  if (existsSync(`/sys/class/net/${host.bridgeName}`)) spawnSync('ip', ['link', 'del', host.bridgeName]);
  if (kubeProxy) spawnSync(kubeProxy, ['--cleanup'], { stdio: 'ignore', timeout: 30_000 });
  removeChains(host.networkName);
  removeLogLinks(host.dir);
  if (readNodeRecord()?.dir === host.dir) rmSync(NODE_RECORD_FILE, { force: true });
}

/** What of a node is still on the machine, one line each; empty when it is all gone. */
export function nodeLeftovers(host: NodeHost): string[] {
  const left: string[] = [];
  for (const pid of nodeProcesses(host.dir)) left.push(`process ${pid}: ${cmdline(pid)}`);
  for (const mount of mountsUnder(host.dir)) left.push(`mount ${mount}`);
  if (existsSync(`/sys/class/net/${host.bridgeName}`)) left.push(`interface ${host.bridgeName}`);
  for (const link of readdirSync('/sys/class/net')) if (link.startsWith('veth') && vethOfBridge(link, host.bridgeName)) left.push(`interface ${link}`);
  for (const chain of iptablesChains()) if (chain.startsWith('KUBE-') || chain.startsWith('CNI-')) left.push(`iptables chain ${chain}`);
  for (const rule of iptablesRules()) if (rule.includes(host.networkName)) left.push(`iptables rule ${rule}`);
  for (const name of listDir(CNI_RESULTS_DIR)) if (name.startsWith(`${host.networkName}-`)) left.push(`CNI result ${CNI_RESULTS_DIR}/${name}`);
  return left;
}

/** Live processes whose command line mentions the node's dir (node components, shims). */
function nodeProcesses(dir: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && isAlive(pid) && commandLineMentions(pid, dir));
}

/**
 * Kills the node's processes and all their descendants, children first. Containers are children
 * of their containerd shim, which outlives containerd by design; killing the shim alone would
 * leave the containers running as orphans.
 */
function killNodeProcesses(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const roots = nodeProcesses(dir);
    if (roots.length === 0) return;
    const parents = parentMap();
    const doomed = new Set<number>(roots);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of parents) {
        if (!doomed.has(pid) && doomed.has(ppid)) {
          doomed.add(pid);
          grew = true;
        }
      }
    }
    for (const pid of doomed) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const deadline = Date.now() + 5_000;
    while ([...doomed].some(isAlive) && Date.now() < deadline) spawnSync('sleep', ['0.1']);
  }
}

function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    // Deepest first: a bind mount of the kubelet dir holds the pod volume mounts below it.
    for (const mount of mounts.sort((a, b) => b.length - a.length)) {
      if (spawnSync('umount', [mount]).status !== 0) spawnSync('umount', ['-l', mount]);
    }
  }
}

function mountsUnder(dir: string): string[] {
  const prefix = `${dir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((path) => path.replace(/\\040/g, ' '))
    .filter((path) => path === dir || path.startsWith(prefix));
}

/** iptables chain names in all tables (iptables-nft, the default on Debian, is what kube-proxy picked here). */
function iptablesChains(): string[] {
  return iptablesSave()
    .split('\n')
    .filter((line) => line.startsWith(':'))
    .map((line) => line.slice(1).split(' ')[0]!);
}

function iptablesRules(): string[] {
  return iptablesSave()
    .split('\n')
    .filter((line) => line.startsWith('-A '));
}

function iptablesSave(): string {
  const result = spawnSync('iptables-save', [], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : '';
}

/**
 * Removes the bridge plugin's masquerade rules for this network (their comment names it) and
 * the `CNI-*` chains they jump to, then any `KUBE-*` chain kube-proxy --cleanup left (the kubelet's
 * canary and firewall chains): one node per machine, so those are this node's.
 */
function removeChains(networkName: string): void {
  let table = '';
  const doomedChains = new Map<string, Set<string>>();
  const deletions: { table: string; rule: string }[] = [];
  for (const line of iptablesSave().split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0]!;
      if (chain.startsWith('KUBE-')) add(doomedChains, table, chain);
    } else if (line.startsWith('-A ')) {
      const target = / -j (\S+)/.exec(line)?.[1] ?? '';
      if (line.includes(networkName) || target.startsWith('KUBE-')) {
        deletions.push({ table, rule: line });
        if (target.startsWith('CNI-') || target.startsWith('KUBE-')) add(doomedChains, table, target);
      }
    }
  }
  for (const { table: t, rule } of deletions) {
    spawnSync('sh', ['-c', `iptables -t ${t} -D ${rule.slice(3)}`]);
  }
  for (const [t, chains] of doomedChains) {
    for (const chain of chains) spawnSync('iptables', ['-t', t, '-F', chain]);
    for (const chain of chains) spawnSync('iptables', ['-t', t, '-X', chain]);
  }
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  if (!map.has(key)) map.set(key, new Set());
  map.get(key)!.add(value);
}

/** Where containerd 1.6 puts shim sockets, whatever its state dir; CNI's result cache; kubelet's fixed device-plugin dir. */
const SHIM_SOCKET_DIR = '/run/containerd/s';
const CNI_RESULTS_DIR = '/var/lib/cni/results';
const KUBELET_DEVICE_PLUGINS = '/var/lib/kubelet/device-plugins';

/**
 * Files the runtime leaves outside the temp dir, found from what is inside it (so call this
 * before removing it): a killed shim's socket, named by sha256 of `<containerd address>/k8s.io/<id>`;
 * the CNI result cache (`<network>-<sandbox id>-<interface>`, and `cni-loopback-…` for the
 * loopback the CRI sets up); the kubelet's device-plugin socket at its fixed path.
 */
function removeRuntimeFiles(host: NodeHost): void {
  const paths = nodePaths(host.dir);
  const tasks = listDir(join(paths.containerdState, 'io.containerd.runtime.v2.task', 'k8s.io'));
  for (const id of tasks) {
    const hash = createHash('sha256').update(join(paths.containerdSocket, 'k8s.io', id)).digest('hex');
    rmSync(join(SHIM_SOCKET_DIR, hash), { force: true });
  }
  const sandboxes = new Set([...tasks, ...listDir(join(paths.containerdRoot, 'io.containerd.grpc.v1.cri', 'sandboxes'))]);
  for (const name of listDir(CNI_RESULTS_DIR)) {
    const ours = name.startsWith(`${host.networkName}-`) || [...sandboxes].some((id) => name.includes(`-${id}-`));
    if (ours) rmSync(join(CNI_RESULTS_DIR, name), { force: true });
  }
  // One node per machine: with no kubelet left running, the socket is this node's.
  if (!allPids().some((pid) => cmdline(pid).split(' ')[0]?.endsWith('kubelet'))) {
    rmSync(join(KUBELET_DEVICE_PLUGINS, 'kubelet.sock'), { force: true });
    for (const dir of [KUBELET_DEVICE_PLUGINS, '/var/lib/kubelet']) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty (someone else's), or gone
      }
    }
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** kubelet links container logs into /var/log/containers whatever its podLogsDir. */
function removeLogLinks(dir: string): void {
  const links = '/var/log/containers';
  if (!existsSync(links)) return;
  for (const name of readdirSync(links)) {
    try {
      if (readlinkSync(join(links, name)).startsWith(dir)) rmSync(join(links, name), { force: true });
    } catch {
      // not a link
    }
  }
}

function vethOfBridge(link: string, bridge: string): boolean {
  try {
    return readlinkSync(`/sys/class/net/${link}/master`).endsWith(`/${bridge}`);
  } catch {
    return false;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const pid of allPids()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited
    }
  }
  return parents;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
}
