/**
 * Setting a node up on the machine: whether it can run here, its names and addresses, the
 * machine-wide claim (one node at a time, see node-record.ts), and the bridge carrying the
 * node address. Taking it all back is node-cleanup.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { cleanUpNodeHost, iptablesChains, nodeProcesses } from './node-cleanup.js';
import { readNodeRecord, writeNodeRecord, type NodeHost } from './node-record.js';

export { cleanUpNodeHost, nodeLeftovers } from './node-cleanup.js';
export { NodeHost } from './node-record.js';

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
  writeNodeRecord(host);
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

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
}
