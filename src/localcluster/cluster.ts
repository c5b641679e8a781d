import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinaries, type ControlPlaneBinaries } from './binaries.js';
import { writeClusterCredentials, type ClusterCredentials } from './credentials.js';
import { writeKubeconfig } from './kubeconfig.js';
import { freePort } from './ports.js';
import { spawnLogged, stopProcess, type LoggedProcess } from './processes.js';
import { probe, waitUntilReady } from './readiness.js';
import { KubeConfig } from '@kubernetes/client-node';
import { applyObjects } from '../kube/apply.js';
import { NODE_NAME, STORAGE_CLASS, hostPathVolumeDirs, removeHostPathVolumeDirs, startNode } from './node.js';
import { allocateNodeHost, claimMachine, cleanUpNodeHost, nodeUnavailableReason, setUpNodeHost, type NodeHost } from './node-host.js';
import { startRegistry, type LocalRegistry } from './registry.js';

/** Options for {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /**
   * Also run kube-controller-manager (garbage collection, namespace deletion, Deployments →
   * ReplicaSets, default ServiceAccounts). Default true.
   */
  controllerManager?: boolean;
  /** Where to write the admin kubeconfig. Default: `kubeconfig` inside the cluster's temp dir. */
  kubeconfigPath?: string;
  /**
   * Let the processes outlive this Node process (the `cluster:up` CLI). Once started, nothing
   * kills them on exit: whoever records {@link LocalCluster.pids} must stop them. Default false.
   */
  detached?: boolean;
  /** Per component start timeout. Default 60 s (the machines have 2 cores). */
  startTimeoutMs?: number;
  /** Use these binaries instead of resolving them (see {@link resolveBinaries}). */
  binaries?: ControlPlaneBinaries;
  /**
   * Also run a node (containerd, kubelet, kube-proxy, kube-scheduler, a CNI bridge) and an
   * authenticated local registry it pulls from: pods really run. Needs root on Linux, the
   * Debian packages test/setup.sh installs, and one node per machine. Default false.
   */
  node?: boolean;
}

/** A running local control plane. */
export interface LocalCluster {
  /** Admin kubeconfig (token auth, CA-verified TLS). */
  kubeconfigPath: string;
  /** e.g. `https://127.0.0.1:41234`. */
  server: string;
  /** Admin bearer token (group `system:masters`). */
  token: string;
  /** Temp dir holding etcd data, certificates, keys and the processes' logs (`*.log`). */
  dir: string;
  /** Pids of etcd, kube-apiserver and (when started) kube-controller-manager and the node's processes. */
  pids: number[];
  /** With `node`: the registry the node pulls from, with credentials that may push and pull. */
  registry?: LocalRegistry;
  /** With `node`: the node's name, address and what it set up on the machine. */
  node?: NodeHost & { name: string };
  /** With `node`: the kube-proxy binary, whose `--cleanup` removes its iptables chains. */
  kubeProxy?: string;
  /** Stops the processes (SIGTERM, SIGKILL after a grace period) and removes {@link dir}. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** The apiserver writes its self-signed serving certificate here (under `--cert-dir`). */
const SERVING_CERT = 'apiserver.crt';
/**
 * Controllers for what tests rely on, by the canonical names of kube-controller-manager 1.33
 * (`kube-controller-manager --help` lists them; the short pre-1.28 names are only aliases).
 */
const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  // The kube-root-ca.crt ConfigMap in every namespace, as on a real cluster.
  'root-ca-certificate-publisher-controller',
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'job-controller',
  'cronjob-controller',
  'daemonset-controller',
  // Type-checks ValidatingAdmissionPolicy CEL against the matched types into .status.typeChecking.
  'validatingadmissionpolicy-status-controller',
];

/**
 * Starts etcd, kube-apiserver and (by default) kube-controller-manager on free loopback ports,
 * the way controller-runtime's envtest does, and resolves once the apiserver answers `/readyz`
 * (and, with the controller-manager, once it has created the `default` ServiceAccount, which
 * proves it runs). On failure everything started so far is stopped and the error carries the
 * failing process's last log lines.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const withControllerManager = options.controllerManager ?? true;
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const detached = options.detached ?? false;
  const withNode = options.node ?? false;
  if (withNode && !withControllerManager) throw new Error('a node needs the controller-manager (node lifecycle, endpoints, …)');
  const unavailable = withNode ? nodeUnavailableReason() : undefined;
  if (unavailable) throw new Error(`cannot start a node: ${unavailable}`);
  const binaries = options.binaries ?? (await resolveBinaries({ controllerManager: withControllerManager, node: withNode }));
  const controllerManagerBinary = withControllerManager ? binaries.kubeControllerManager : undefined;
  if (withControllerManager && !controllerManagerBinary) {
    throw new Error('controllerManager is enabled but the given binaries have no kubeControllerManager');
  }

  const dir = mkdtempSync(join(tmpdir(), 'licensegate-cluster-'));
  const kubeconfigPath = options.kubeconfigPath ?? join(dir, 'kubeconfig');
  const processes: LoggedProcess[] = [];
  const start = (name: string, binary: string, args: string[]): LoggedProcess => {
    const proc = spawnLogged(name, binary, args, { logFile: join(dir, `${name}.log`), detached });
    processes.push(proc);
    return proc;
  };

  // Killing synchronously is all an 'exit' listener can do; the data is disposable anyway.
  // Detached clusters are guarded too until they are handed over, so that an interrupted
  // `cluster:up` leaves nothing behind.
  let host: NodeHost | undefined;
  const killOnExit = () => {
    for (const proc of processes) proc.child.kill('SIGKILL');
    if (host) cleanUpNodeHost(host, binaries.kubeProxy);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  let apiAccess: { server: string; token: string } | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const volumes = host && apiAccess ? await hostPathVolumeDirs(apiAccess.server, apiAccess.token) : [];
      // Reverse order: clients before the apiserver before etcd, so nothing logs a storm of retries.
      for (const proc of [...processes].reverse()) await stopProcess(proc);
      // Containers, their shims, mounts, interfaces and chains outlive the node's processes.
      if (host) cleanUpNodeHost(host, binaries.kubeProxy);
      removeHostPathVolumeDirs(volumes);
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    if (withNode) {
      // Before the apiserver: it binds the node address, which pods reach it at (via the
      // `kubernetes` Service); 127.0.0.1 would be each pod's own loopback.
      const claimed = allocateNodeHost(dir);
      claimMachine(claimed);
      // Only a claimed machine is ours to clean up: a refused start must not touch the running node's chains.
      host = claimed;
      setUpNodeHost(host);
    }
    const credentials = writeClusterCredentials(dir);
    const etcdUrl = await startEtcd(start, binaries.etcd, dir, timeoutMs);
    const { server, caPem, caFile } = await startApiserver(start, {
      binary: binaries.kubeApiserver,
      dir,
      etcdUrl,
      credentials,
      withControllerManager,
      timeoutMs,
      address: host?.nodeIp ?? '127.0.0.1',
    });
    writeKubeconfig(kubeconfigPath, { server, token: credentials.adminToken, caPem });
    apiAccess = { server, token: credentials.adminToken };
    if (controllerManagerBinary) {
      await startControllerManager(start, {
        binary: controllerManagerBinary,
        kubeconfigPath,
        server,
        credentials,
        rootCaFile: caFile,
        timeoutMs,
        node: withNode,
      });
    }
    let registry: LocalRegistry | undefined;
    if (host) {
      registry = await startRegistry(start, dir, timeoutMs);
      await startNode({
        start,
        host,
        binaries: { kubeScheduler: binaries.kubeScheduler!, kubelet: binaries.kubelet!, kubeProxy: binaries.kubeProxy! },
        kubeconfigPath,
        server,
        adminToken: credentials.adminToken,
        registryHost: registry.host,
        timeoutMs,
      });
      await applyDefaultStorageClass(kubeconfigPath);
    }
    if (detached) process.off('exit', killOnExit);
    return {
      kubeconfigPath,
      server,
      token: credentials.adminToken,
      dir,
      pids: processes.map((p) => p.pid),
      stop,
      ...(registry ? { registry } : {}),
      ...(host ? { node: { ...host, name: NODE_NAME }, kubeProxy: binaries.kubeProxy! } : {}),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

type Start = (name: string, binary: string, args: string[]) => LoggedProcess;

async function startEtcd(start: Start, binary: string, dir: string, timeoutMs: number): Promise<string> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const etcd = start('etcd', binary, [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    // Single member: the peer port is never dialled, so let the kernel pick it.
    '--listen-peer-urls=http://localhost:0',
    // Throwaway test data: durability only costs time.
    '--unsafe-no-fsync',
  ]);
  await waitUntilReady({
    what: 'etcd /health',
    process: etcd,
    timeoutMs,
    check: async () => (await probe(`${url}/health`)).body.includes('"health":"true"'),
  });
  return url;
}

interface ApiserverArgs {
  binary: string;
  dir: string;
  etcdUrl: string;
  credentials: ClusterCredentials;
  withControllerManager: boolean;
  timeoutMs: number;
  /** The address it binds and advertises. */
  address: string;
}

async function startApiserver(start: Start, args: ApiserverArgs): Promise<{ server: string; caPem: string; caFile: string }> {
  const { binary, dir, etcdUrl, credentials, withControllerManager, timeoutMs, address } = args;
  const port = await freePort();
  const server = `https://${address}:${port}`;
  const certDir = join(dir, 'apiserver-certs');
  mkdirSync(certDir);
  const apiserver = start('kube-apiserver', binary, [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${certDir}`,
    `--secure-port=${port}`,
    `--bind-address=${address}`,
    // Without a default route the apiserver cannot guess an address to advertise.
    `--advertise-address=${address}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    `--token-auth-file=${credentials.tokenAuthFile}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${credentials.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${credentials.serviceAccountKeyFile}`,
    '--allow-privileged=true',
    // logs/exec/port-forward dial the node's address: its hostname resolves nowhere.
    '--kubelet-preferred-address-types=InternalIP',
    // Nobody creates default ServiceAccounts without the controller-manager; the plugin would
    // then refuse every Pod.
    ...(withControllerManager ? [] : ['--disable-admission-plugins=ServiceAccount']),
  ]);
  await waitUntilReady({
    what: 'kube-apiserver /readyz',
    process: apiserver,
    timeoutMs,
    check: async () => (await probe(`${server}/readyz`, credentials.adminToken)).status === 200,
  });
  // The self-signed serving certificate file holds the leaf and the CA that signed it; its
  // SANs include 127.0.0.1, so it works as the kubeconfig's CA bundle.
  const caFile = join(certDir, SERVING_CERT);
  return { server, caPem: readFileSync(caFile, 'utf8'), caFile };
}

interface ControllerManagerArgs {
  binary: string;
  kubeconfigPath: string;
  server: string;
  credentials: ClusterCredentials;
  rootCaFile: string;
  timeoutMs: number;
  /** Also the controllers a node needs. */
  node: boolean;
}

/**
 * What a cluster with a node needs besides {@link CONTROLLERS}: Ready/NotReady and its taints,
 * Service endpoints (kube-proxy), PVC binding with the host-path provisioner, disruption
 * budgets (the chart ships one), pod garbage collection, aggregated RBAC roles.
 */
const NODE_CONTROLLERS = [
  'node-lifecycle-controller',
  'taint-eviction-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'persistentvolume-binder-controller',
  'persistentvolume-protection-controller',
  'persistentvolumeclaim-protection-controller',
  'disruption-controller',
  'pod-garbage-collector-controller',
  'ttl-controller',
  'clusterrole-aggregation-controller',
];

async function startControllerManager(start: Start, args: ControllerManagerArgs): Promise<void> {
  const { binary, kubeconfigPath, server, credentials, rootCaFile, timeoutMs, node } = args;
  const controllerManager = start('kube-controller-manager', binary, [
    `--kubeconfig=${kubeconfigPath}`,
    '--leader-elect=false',
    `--controllers=${[...CONTROLLERS, ...(node ? NODE_CONTROLLERS : [])].join(',')}`,
    // Untaint a node that turned Ready within a second, not the default five.
    ...(node ? ['--enable-hostpath-provisioner=true', '--node-monitor-period=1s'] : []),
    `--service-account-private-key-file=${credentials.serviceAccountKeyFile}`,
    `--root-ca-file=${rootCaFile}`,
    // One admin identity for all controllers: no per-controller ServiceAccounts to bootstrap.
    '--use-service-account-credentials=false',
    // No HTTPS endpoint: nothing scrapes it, and it would need one more free port.
    '--secure-port=0',
  ]);
  await waitUntilReady({
    what: 'kube-controller-manager (default ServiceAccount in namespace default)',
    process: controllerManager,
    timeoutMs,
    check: async () =>
      (await probe(`${server}/api/v1/namespaces/default/serviceaccounts/default`, credentials.adminToken)).status === 200,
  });
}

/** The default StorageClass for PVCs: the controller-manager's host-path provisioner. */
async function applyDefaultStorageClass(kubeconfigPath: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await applyObjects(kc, [
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'kubernetes.io/host-path',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    },
  ]);
}
