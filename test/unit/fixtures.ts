/**
 * Builders for the pure-core unit tests: a fixed clock and minimal, valid API objects that
 * each test overrides where it matters. Time is data here; nothing reads the real clock.
 */
import {
  API_VERSION,
  type Application,
  type ApplicationSpec,
  type Customer,
  type CustomerSpec,
  type CustomerStatus,
  type License,
  type LicenseSpec,
  type LicenseStatus,
} from '../../src/api/index.js';
import type { CredentialsSecret } from '../../src/render/pullsecret.js';

/** The instant every test calls "now". */
export const NOW = new Date('2026-03-01T12:00:00Z');

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** NOW shifted by `ms`. */
export const after = (ms: number): Date => new Date(NOW.getTime() + ms);
export const before = (ms: number): Date => new Date(NOW.getTime() - ms);
/** RFC 3339 with second precision, as the API carries timestamps. */
export const iso = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export const OPERATOR_NAMESPACE = 'licensegate-system';
export const REGISTRY = 'registry.acme.example';

/** A digest made of one repeated hex digit, so tests can tell them apart at a glance. */
export const digest = (hex: string): string => `sha256:${hex.repeat(64)}`;

export function application(name: string, spec: Partial<ApplicationSpec> = {}): Application {
  return {
    apiVersion: API_VERSION,
    kind: 'Application',
    metadata: { name, generation: 1 },
    spec: {
      images: [`${REGISTRY}/${name}/api`],
      versions: [],
      tagFormat: '{version}',
      ...spec,
    },
  };
}

export function customer(name: string, spec: Partial<CustomerSpec> = {}, status?: CustomerStatus): Customer {
  return {
    apiVersion: API_VERSION,
    kind: 'Customer',
    metadata: { name, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { enforcement: { admission: 'Deny', onViolation: 'ScaleToZero' }, ...spec },
    ...(status ? { status } : {}),
  };
}

export function license(
  name: string,
  spec: Partial<LicenseSpec> = {},
  options: { status?: LicenseStatus; created?: string; generation?: number } = {},
): License {
  return {
    apiVersion: API_VERSION,
    kind: 'License',
    metadata: { name, generation: options.generation ?? 1, creationTimestamp: options.created ?? '2026-01-01T00:00:00Z' },
    spec: {
      customer: 'globex',
      application: 'analytics',
      versions: ['*'],
      suspended: false,
      type: 'Commercial',
      ...spec,
    },
    ...(options.status ? { status: options.status } : {}),
  };
}

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
export const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

export function basicAuthSecret(username: string, password: string): CredentialsSecret {
  return { type: 'kubernetes.io/basic-auth', data: { username: b64(username), password: b64(password) } };
}

export function dockerConfigSecret(server: string, username: string, password: string): CredentialsSecret {
  const auth = b64(`${username}:${password}`);
  return {
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { [server]: { username, password, auth } } })) },
  };
}

/** The parsed `.dockerconfigjson` of a rendered pull Secret. */
export interface DockerConfig {
  auths: Record<string, { username?: string; password?: string; auth?: string }>;
}
export const readDockerConfig = (base64: string | undefined): DockerConfig => JSON.parse(unb64(base64 ?? '')) as DockerConfig;
