/**
 * The harness's optional node: containerd (own root, state and socket under the cluster's temp
 * dir), kube-scheduler, kubelet and kube-proxy (iptables), pods on a CNI bridge, the node
 * address on the bridge. The node pulls from the local registry only with a pull
 * secret; its pause image is imported, never pulled.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_CONFIG, importBusyboxImage } from './images.js';
import { nodePaths, renderCniConflist, renderContainerdConfig, renderKubeletConfig, renderKubeProxyConfig, renderRegistryHosts, type NodeLayout } from './node-config.js';
import type { NodeHost } from './node-host.js';
import { freePort } from './ports.js';
import type { LoggedProcess } from './processes.js';
import { probe, waitUntilReady } from './readiness.js';

/** The node's name in the API (`kubectl get nodes`). */
export const NODE_NAME = 'licensegate-node';
/** The imported pause image; fully qualified because the CRI normalises the name it looks up. */
export const SANDBOX_IMAGE = 'licensegate.local/pause:1';
/**
 * The StorageClass the harness makes default: kube-controller-manager's host-path provisioner
 * (`--enable-hostpath-provisioner`, for development only) makes a directory under /tmp per claim.
 */
export const STORAGE_CLASS = 'standard';

/** Executables of the node. */
export interface NodeBinaries {
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
}

type Start = (name: string, binary: string, args: string[]) => LoggedProcess;

export interface StartNodeArgs {
  start: Start;
  host: NodeHost;
  binaries: NodeBinaries;
  kubeconfigPath: string;
  server: string;
  adminToken: string;
  registryHost: string;
  timeoutMs: number;
}

/** Starts containerd, kube-scheduler, kubelet and kube-proxy; resolves once the node is Ready and untainted. */
export async function startNode(args: StartNodeArgs): Promise<void> {
  const { start, host, binaries, kubeconfigPath, server, adminToken, timeoutMs } = args;
  const layout: NodeLayout = {
    dir: host.dir,
    nodeName: NODE_NAME,
    nodeIp: host.nodeIp,
    podSubnet: host.podSubnet,
    bridgeName: host.bridgeName,
    networkName: host.networkName,
    sandboxImage: SANDBOX_IMAGE,
    kubeletPort: await freePort(),
    kubeletHealthzPort: await freePort(),
    kubeProxyHealthzPort: await freePort(),
    kubeProxyMetricsPort: await freePort(),
    containerdStreamPort: await freePort(),
  };
  const paths = nodePaths(host.dir);
  for (const dir of [paths.containerdRoot, paths.containerdState, paths.cniConfDir, paths.kubeletRoot, paths.podLogsDir]) {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(paths.containerdConfig, renderContainerdConfig(layout));
  mkdirSync(join(paths.registryHostsDir, args.registryHost), { recursive: true });
  writeFileSync(join(paths.registryHostsDir, args.registryHost, 'hosts.toml'), renderRegistryHosts(args.registryHost));
  writeFileSync(join(paths.cniConfDir, '10-licensegate.conflist'), renderCniConflist(layout));
  writeFileSync(paths.kubeletConfig, renderKubeletConfig(layout));
  writeFileSync(paths.kubeProxyConfig, renderKubeProxyConfig(layout, kubeconfigPath));

  const containerd = start('containerd', 'containerd', ['--config', paths.containerdConfig]);
  await waitUntilReady({
    what: 'containerd (pause image imported)',
    process: containerd,
    timeoutMs,
    check: async () => {
      await importBusyboxImage(paths.containerdSocket, SANDBOX_IMAGE, PAUSE_CONFIG);
      return true;
    },
    intervalMs: 500,
  });

  start('kube-scheduler', binaries.kubeScheduler, [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0']);
  const kubelet = start('kubelet', binaries.kubelet, [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${kubeconfigPath}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${join(paths.kubeletRoot, 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${host.nodeIp}`,
  ]);
  start('kube-proxy', binaries.kubeProxy, [`--config=${paths.kubeProxyConfig}`]);

  await waitUntilReady({
    what: `node ${NODE_NAME} Ready without the not-ready taint`,
    process: kubelet,
    timeoutMs,
    check: async () => {
      const response = await probe(`${server}/api/v1/nodes/${NODE_NAME}`, adminToken);
      if (response.status !== 200) return false;
      const node = JSON.parse(response.body) as {
        spec?: { taints?: { key: string }[] };
        status?: { conditions?: { type: string; status: string }[] };
      };
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      const tainted = node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')) ?? false;
      return ready && !tainted;
    },
    intervalMs: 500,
  });
}

/** Where kube-controller-manager's host-path provisioner makes a directory per claim (fixed in its code). */
const HOST_PATH_PROVISIONER_DIR = '/tmp/hostpath_pv/';

/**
 * The directories of the cluster's host-path PersistentVolumes: they live outside the temp
 * dir, so they are read from the API before the cluster stops and removed after. Empty when
 * the API does not answer (a crashed cluster's volumes stay, and are said to stay by no one).
 */
export async function hostPathVolumeDirs(server: string, token: string): Promise<string[]> {
  try {
    const response = await probe(`${server}/api/v1/persistentvolumes`, token);
    if (response.status !== 200) return [];
    const list = JSON.parse(response.body) as { items?: { spec?: { hostPath?: { path?: string } } }[] };
    return (list.items ?? [])
      .map((pv) => pv.spec?.hostPath?.path ?? '')
      .filter((path) => path.startsWith(HOST_PATH_PROVISIONER_DIR) && !path.slice(HOST_PATH_PROVISIONER_DIR.length).includes('/'));
  } catch {
    return [];
  }
}

export function removeHostPathVolumeDirs(dirs: readonly string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
