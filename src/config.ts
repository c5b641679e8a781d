/** Operator configuration from the environment, parsed with zod: bad values fail fast with a readable message. */
import { hostname } from 'node:os';
import { z } from 'zod';

const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const configSchema = z.object({
  /** Namespace the operator runs in; credentials Secrets live here by convention. */
  LICENSEGATE_NAMESPACE: z.string().min(1).default('licensegate-system'),
  /** Port of /metrics, /healthz and /readyz; 0 picks a free one. */
  LICENSEGATE_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  LICENSEGATE_LEADER_ELECTION: boolean.default(true),
  /** Lease identity; defaults to hostname and pid so two processes on one host differ. */
  LICENSEGATE_IDENTITY: z.string().min(1).default(`${hostname()}-${process.pid}`),
  LICENSEGATE_LEASE_NAME: z.string().min(1).default('licensegate-leader'),
  /** Lease duration; renew deadline and retry period follow client-go's 15:10:2 ratio. */
  LICENSEGATE_LEASE_DURATION_SECONDS: z.coerce.number().min(1).default(15),
  /** Re-reconcile everything this often, in seconds, to catch what no event reported. */
  LICENSEGATE_RESYNC_SECONDS: z.coerce.number().int().min(10).default(600),
  /** Record what the enforcement sweep would do (as Events) without doing it. */
  LICENSEGATE_ENFORCEMENT_DRY_RUN: boolean.default(false),
  /** Install the admission policy at start-up, exempting the operator's own identity. */
  LICENSEGATE_INSTALL_ADMISSION_POLICY: boolean.default(false),
  /** Which admission path checks workload versions: the ValidatingAdmissionPolicy, or (clusters without it) the webhook. */
  LICENSEGATE_ADMISSION_ENGINE: z.enum(['policy', 'webhook']).default('policy'),
  /** Serve the admission webhook (scale-ups through /scale always; everything with engine=webhook). */
  LICENSEGATE_WEBHOOK: boolean.default(false),
  LICENSEGATE_WEBHOOK_PORT: z.coerce.number().int().min(0).max(65535).default(9443),
  LICENSEGATE_WEBHOOK_BIND_ADDRESS: z.string().default('0.0.0.0'),
  /** The Service in front of the webhook, in LICENSEGATE_NAMESPACE. */
  LICENSEGATE_WEBHOOK_SERVICE: z.string().min(1).default('licensegate-webhook'),
  /** An explicit URL for the API server to call instead of the Service (an operator running outside the cluster). */
  LICENSEGATE_WEBHOOK_URL: z.url({ protocol: /^https$/ }).optional(),
  /** Comma-separated hosts of the registry gate's self-issued certificate; empty: the install brings the gate's TLS. */
  LICENSEGATE_GATE_TLS_HOSTS: z.string().default('').transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean)),
  /**
   * Vendor public keys that signed licenses are verified with: a PEM bundle file, or a directory
   * of them (*.pem, *.pub; the chart mounts `signing.publicKeys` there). Unset: no key is trusted,
   * so every signed license is Invalid (UnknownSigningKey).
   */
  LICENSEGATE_SIGNING_PUBLIC_KEYS: z.string().min(1).optional(),
  /** Accept only vendor-signed licenses: unsigned ones are Invalid (SignatureRequired) and grant nothing. */
  LICENSEGATE_SIGNING_REQUIRED: boolean.default(false),
  LICENSEGATE_WORKERS: z.coerce.number().int().min(1).max(64).default(4),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type OperatorConfig = z.infer<typeof configSchema>;

/** Parses the configuration or throws an Error listing every bad variable and its fix. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
  throw new Error(`invalid configuration:\n${problems}`);
}
