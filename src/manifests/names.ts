/**
 * Names and defaults shared by the plain manifests (manifests/) and the Helm chart
 * (charts/licensegate): one place, so the two installs cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (src/manifests/../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The product's version (package.json), which is the chart's appVersion and the image tag. */
export const APP_VERSION: string = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Where the vendor pushes the image built from the Dockerfile; both installs let it be overridden. */
export const IMAGE_REPOSITORY = 'ghcr.io/licensegate/licensegate';
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${APP_VERSION}`;

/** The operator's namespace in the plain manifests (and the namespace the chart's README suggests). */
export const DEFAULT_NAMESPACE = 'licensegate-system';

/**
 * Fixed object names. licensegate is cluster-wide (one operator per cluster: its admission
 * policies and CRDs are cluster-scoped), so names carry no release prefix.
 */
export const NAMES = {
  app: 'licensegate',
  serviceAccount: 'licensegate',
  deployment: 'licensegate',
  /** ClusterRole and ClusterRoleBinding of the operator. */
  clusterRole: 'licensegate',
  /** Role and RoleBinding in the operator's namespace. */
  role: 'licensegate',
  /** ClusterRole (and binding) that only an install with the webhook needs. */
  webhookClusterRole: 'licensegate-webhook',
  /** Aggregated into view/edit/admin: customer teams may read their namespace's VersionPolicy. */
  viewerClusterRole: 'licensegate-versionpolicy-viewer',
  lease: 'licensegate-leader',
  metricsService: 'licensegate-metrics',
  webhookService: 'licensegate-webhook',
  podDisruptionBudget: 'licensegate',
  /** The registry gate: Deployment, Service, ServiceAccount, PodDisruptionBudget, ClusterRole, Role and bindings. */
  gate: 'licensegate-gate',
  /** The gate's self-issued TLS Secret (when the chart is given none), written by the operator. */
  gateTlsSecret: 'licensegate-gate-tls',
} as const;

export const PORTS = {
  /** /metrics, /healthz, /readyz (LICENSEGATE_HTTP_PORT). */
  http: 8080,
  /** The webhook's HTTPS port in the container (LICENSEGATE_WEBHOOK_PORT); its Service listens on 443. */
  webhook: 9443,
  /** The registry gate's HTTPS port in its container; its Service listens on 443. */
  gate: 5443,
} as const;

/** The in-cluster username of the operator's ServiceAccount, which the admission policies exempt. */
export function operatorUsername(namespace: string, serviceAccount: string = NAMES.serviceAccount): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * Node flags of the gate container. A 2 MiB young generation keeps the gate's memory flat
 * while it streams (bench/gate.ts: high-water 127 MiB instead of 159 MiB for 50 concurrent
 * pulls after 1,000 manifest requests and 3 blob downloads); blob bodies are allocated outside
 * the V8 heap, so throughput does not depend on it.
 */
export const GATE_NODE_FLAGS = ['--max-semi-space-size=2'];
