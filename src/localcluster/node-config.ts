/**
 * The configuration files of the harness's node, as pure functions of a {@link NodeLayout}:
 * containerd's config.toml, the registry's hosts.toml, the CNI bridge conflist, the kubelet's
 * and kube-proxy's configurations. Every path lives under the cluster's temp dir, so two
 * clusters never share state and removing the dir removes the node's files.
 *
 * What each odd setting is for (found on these machines, see KUBERNETES-NOTES "A real node"):
 * - `restrict_oom_score_adj`: the VM lacks CAP_SYS_RESOURCE; runc cannot lower oom_score_adj.
 * - runc, `SystemdCgroup = false`, kubelet `cgroupDriver: cgroupfs`, `cgroupsPerQOS: false`:
 *   hybrid cgroup v1 with no systemd (crun refuses hybrid mode).
 * - `netns_mounts_under_state_dir`: pod network namespaces are mounted under the temp dir, so
 *   cleanup finds them by path instead of guessing among /run/netns.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Where everything of one node lives, and the addresses it uses. */
export interface NodeLayout {
  /** The cluster's temp dir. */
  dir: string;
  nodeName: string;
  /** The node's InternalIP: the pod network's gateway address on the bridge (the apiserver binds it too). */
  nodeIp: string;
  /** Pod network, e.g. `10.244.7.0/24`; its first address is the bridge's. */
  podSubnet: string;
  /** Linux bridge the CNI plugin creates (≤ 15 characters). */
  bridgeName: string;
  /** CNI network name; it appears in the comments of the iptables rules the bridge plugin writes. */
  networkName: string;
  /** Image the CRI runs as each pod's sandbox ("pause"); imported locally, never pulled. */
  sandboxImage: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  kubeProxyHealthzPort: number;
  kubeProxyMetricsPort: number;
  containerdStreamPort: number;
}

/** Paths derived from {@link NodeLayout.dir}. */
export function nodePaths(dir: string) {
  const containerd = join(dir, 'containerd');
  return {
    containerdConfig: join(containerd, 'config.toml'),
    containerdRoot: join(containerd, 'root'),
    containerdState: join(containerd, 'state'),
    containerdSocket: join(containerd, 'containerd.sock'),
    registryHostsDir: join(containerd, 'certs.d'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniIpamDir: join(dir, 'cni', 'ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet-config.yaml'),
    podLogsDir: join(dir, 'pod-logs'),
    kubeProxyConfig: join(dir, 'kube-proxy-config.yaml'),
  };
}

/** The CNI plugins' directory of Debian's containernetworking-plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';

export function renderContainerdConfig(layout: NodeLayout): string {
  const p = nodePaths(layout.dir);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(p.containerdRoot)}
state = ${q(p.containerdState)}

[grpc]
  address = ${q(p.containerdSocket)}

[ttrpc]
  address = ${q(`${p.containerdSocket}.ttrpc`)}

[${cri}]
  sandbox_image = ${q(layout.sandboxImage)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = ${q(String(layout.containerdStreamPort))}
  disable_apparmor = true

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  BinaryName = "runc"
  Root = ${q(join(p.containerdState, 'runc'))}
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = ${q(CNI_BIN_DIR)}
  conf_dir = ${q(p.cniConfDir)}

[${cri}.registry]
  config_path = ${q(p.registryHostsDir)}
`;
}

/** containerd's per-registry hosts.toml: the local registry speaks plain HTTP. */
export function renderRegistryHosts(registryHost: string): string {
  return `server = ${q(`http://${registryHost}`)}

[host.${q(`http://${registryHost}`)}]
  capabilities = ["pull", "resolve"]
`;
}

/** A bridge network with masquerading and host-local IPAM whose state stays under the temp dir. */
export function renderCniConflist(layout: NodeLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: layout.networkName,
      plugins: [
        {
          type: 'bridge',
          bridge: layout.bridgeName,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: nodePaths(layout.dir).cniIpamDir,
            ranges: [[{ subnet: layout.podSubnet }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export function renderKubeletConfig(layout: NodeLayout): string {
  const p = nodePaths(layout.dir);
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Serves logs/exec to the apiserver on the node address only. No client certificates exist
    // in this harness, so the apiserver calls anonymously; the port is not reachable from
    // outside the machine.
    address: layout.nodeIp,
    port: layout.kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: layout.kubeletHealthzPort,
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    failSwapOn: false,
    podLogsDir: p.podLogsDir,
    // A shared disk that is fuller than a real node's must not evict test pods or delete images.
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '0%', 'imagefs.available': '0%', 'nodefs.inodesFree': '0%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Status every few seconds so that tests see Running soon after it happens.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '20s',
    shutdownGracePeriod: '0s',
    maxPods: 110,
  });
}

export function renderKubeProxyConfig(layout: NodeLayout, kubeconfigPath: string): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: kubeconfigPath },
    hostnameOverride: layout.nodeName,
    clusterCIDR: layout.podSubnet,
    healthzBindAddress: `127.0.0.1:${layout.kubeProxyHealthzPort}`,
    metricsBindAddress: `127.0.0.1:${layout.kubeProxyMetricsPort}`,
    // Leave the machine's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // No NodePorts on 127.0.0.1: that needs route_localnet, a machine-wide sysctl.
    iptables: { localhostNodePorts: false },
  });
}

/** A TOML basic string. The paths here come from mkdtemp and hold no quotes or backslashes. */
function q(value: string): string {
  return JSON.stringify(value);
}
