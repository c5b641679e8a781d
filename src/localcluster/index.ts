/** The local control plane harness: real etcd, kube-apiserver and kube-controller-manager. */
export {
  binaryCacheDir,
  buildBinaries,
  GoToolchainMissingError,
  readControlPlaneVersions,
  resolveBinaries,
  type ControlPlaneBinaries,
  type ControlPlaneVersions,
  type ResolveBinariesOptions,
} from './binaries.js';
export { startLocalCluster, type LocalCluster, type LocalClusterOptions } from './cluster.js';
export { LOCAL_CONTEXT } from './kubeconfig.js';
export { isAlive } from './processes.js';
export { findRepoRoot, stateDir } from './repo.js';
export { readClusterState, type ClusterState } from './state.js';
export { serviceAccountKubeConfig } from './identity.js';
export { freePort } from './ports.js';
export { nodeLeftovers, nodeUnavailableReason, type NodeHost } from './node-host.js';
export { buildAndPush, testAppConfig, writeBusyboxImage, pushImage, type ImageConfig } from './images.js';
export type { LocalRegistry } from './registry.js';
