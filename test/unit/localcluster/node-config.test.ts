import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  nodePaths,
  renderCniConflist,
  renderContainerdConfig,
  renderKubeletConfig,
  renderKubeProxyConfig,
  renderRegistryHosts,
  type NodeLayout,
} from '../../../src/localcluster/node-config.js';

const layout: NodeLayout = {
  dir: '/tmp/licensegate-cluster-abc',
  nodeName: 'licensegate-node',
  nodeIp: '10.244.7.1',
  podSubnet: '10.244.7.0/24',
  bridgeName: 'lgbr0a1b2c',
  networkName: 'licensegate-0a1b2c',
  sandboxImage: 'licensegate.local/pause:1',
  kubeletPort: 41001,
  kubeletHealthzPort: 41002,
  kubeProxyHealthzPort: 41003,
  kubeProxyMetricsPort: 41004,
  containerdStreamPort: 41005,
};

describe('node configuration', () => {
  it('keeps every containerd path under the cluster dir, with the settings these machines need', () => {
    const toml = renderContainerdConfig(layout);
    const paths = [...toml.matchAll(/"(\/[^"]*)"/g)].map((m) => m[1]!);
    expect(paths.filter((p) => !p.startsWith(`${layout.dir}/`) && p !== '/usr/lib/cni')).toEqual([]);
    // No CAP_SYS_RESOURCE; hybrid cgroup v1 without systemd; netns mounts findable by path.
    for (const line of ['restrict_oom_score_adj = true', 'SystemdCgroup = false', 'netns_mounts_under_state_dir = true', 'sandbox_image = "licensegate.local/pause:1"']) {
      expect(toml).toContain(line);
    }
    expect(toml).toContain(`address = "${nodePaths(layout.dir).containerdSocket}"`);
  });

  it('pulls from the local registry over plain HTTP', () => {
    expect(renderRegistryHosts('127.0.0.1:5000')).toBe('server = "http://127.0.0.1:5000"\n\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n');
  });

  it('puts pods on the bridge that carries the node address, with IPAM state under the cluster dir', () => {
    const conf = JSON.parse(renderCniConflist(layout));
    expect(conf.name).toBe(layout.networkName);
    expect(conf.plugins[0]).toMatchObject({ type: 'bridge', bridge: layout.bridgeName, isGateway: true, ipMasq: true });
    expect(conf.plugins[0].ipam).toMatchObject({ type: 'host-local', dataDir: `${layout.dir}/cni/ipam`, ranges: [[{ subnet: '10.244.7.0/24' }]] });
  });

  it('runs the kubelet with cgroupfs, on the node address, against containerd, evicting nothing', () => {
    const config = parse(renderKubeletConfig(layout));
    expect(config).toMatchObject({
      kind: 'KubeletConfiguration',
      address: '10.244.7.1',
      port: 41001,
      cgroupDriver: 'cgroupfs',
      cgroupsPerQOS: false,
      containerRuntimeEndpoint: `unix://${layout.dir}/containerd/containerd.sock`,
      podLogsDir: `${layout.dir}/pod-logs`,
      imageGCHighThresholdPercent: 100,
    });
    expect(config.evictionHard['nodefs.available']).toBe('0%');
  });

  it('runs kube-proxy in iptables mode for the pod subnet, leaving machine-wide sysctls alone', () => {
    const config = parse(renderKubeProxyConfig(layout, '/k/kubeconfig'));
    expect(config).toMatchObject({
      mode: 'iptables',
      clusterCIDR: '10.244.7.0/24',
      hostnameOverride: 'licensegate-node',
      clientConnection: { kubeconfig: '/k/kubeconfig' },
      conntrack: { maxPerCore: 0 },
      iptables: { localhostNodePorts: false },
    });
  });
});
