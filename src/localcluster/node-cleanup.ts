/**
 * Taking back what a node changed on the machine outside its temp dir, and checking that
 * nothing is left: container processes and their containerd shims, mounts (kubelet's root bind
 * mount, container root filesystems, pod network namespaces and volumes: all under the temp
 * dir), the CNI bridge, iptables chains (kube-proxy's `KUBE-*`, the bridge plugin's `CNI-*`),
 * and the runtime's files at fixed paths (shim sockets, the CNI result cache, kubelet's
 * device-plugin socket and log links).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nodePaths } from './node-config.js';
import { removeNodeRecord, type NodeHost } from './node-record.js';
import { commandLineMentions, isAlive } from './processes.js';

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
  removeNodeRecord(host.dir);
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
export function nodeProcesses(dir: string): number[] {
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
export function iptablesChains(): string[] {
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
