/**
 * The operator's Deployment settings shared by both installs: its environment (the operator's
 * configuration, src/config.ts), probes and security context. The chart's templates say the
 * same in Helm's language; test/unit/manifests/chart.test.ts holds the two to agreement.
 */
import { NAMES, PORTS } from './names.js';

/** The non-root user of the image (the node image's `node` user). */
export const RUN_AS_USER = 1000;

/** Settings of the operator that an install fixes: the admission objects come with the install, not from the operator. */
export function operatorEnv(args: { webhook: boolean; engine: 'policy' | 'webhook'; logLevel: string }): Record<string, string> {
  return {
    LICENSEGATE_HTTP_PORT: String(PORTS.http),
    LICENSEGATE_LEADER_ELECTION: 'true',
    LICENSEGATE_LEASE_NAME: NAMES.lease,
    LICENSEGATE_LEASE_DURATION_SECONDS: '15',
    LICENSEGATE_RESYNC_SECONDS: '600',
    LICENSEGATE_WORKERS: '4',
    // The chart and the manifests ship the admission policies (exempting the ServiceAccount), so
    // the operator needs no write access to admission objects and uninstalling removes them.
    LICENSEGATE_INSTALL_ADMISSION_POLICY: 'false',
    LICENSEGATE_ADMISSION_ENGINE: args.engine,
    LICENSEGATE_ENFORCEMENT_DRY_RUN: 'false',
    LICENSEGATE_WEBHOOK: String(args.webhook),
    LICENSEGATE_WEBHOOK_PORT: String(PORTS.webhook),
    LICENSEGATE_WEBHOOK_SERVICE: NAMES.webhookService,
    // The chart's signing.required; its signing.publicKeys adds LICENSEGATE_SIGNING_PUBLIC_KEYS and a mounted ConfigMap.
    LICENSEGATE_SIGNING_REQUIRED: 'false',
    LOG_LEVEL: args.logLevel,
  };
}

export const PROBES = {
  liveness: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
  // A standby replica is ready once its caches are synced; only the leader writes.
  readiness: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
} as const;

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

export const CONTAINER_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;
