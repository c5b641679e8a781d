/**
 * Generators of Licenses, Customers and Applications that the CRD schema accepts but that are
 * wrong in every way the pure code can meet: references to things that do not exist, add-on
 * cycles, second trials, ranges matching nothing, revoked everything, expiry before start,
 * zero or odd grace periods, credentials that are missing, foreign or of the wrong type,
 * namespaces claimed by two customers. Names come from small pools so that objects collide.
 * Shared by the unit property tests (pure core) and the API-server fuzz run.
 */
import fc from 'fast-check';
import { API_VERSION } from '../../src/api/index.js';

export const OPERATOR_NAMESPACE = 'licensegate-system';
export interface FuzzNames {
  /** Prefix of every name, so runs on a shared cluster don't collide. */
  prefix: string;
  /** Prefix of the credentials Secrets (default: prefix), so many worlds can share them. */
  credentials?: string;
}

const VERSIONS = ['1.0.0', '1.1.0', '1.2.0-rc.1', '2.0.0', '2.1.0', '10.0.0', '0.0.1'];
const CONSTRAINTS = ['*', '1.0.0', '9.9.9', '>=1.0.0 <2.0.0', '^2', '~1.1', '1.x || 2.x', '>=3.0.0', '<0.0.1', '1.2.0-rc.1', '0.0.1 || 10.0.0', '>=2.0.0 <1.0.0'];
const DURATIONS = ['0s', '1h', '72h', '7d', '1h30m', '1000d', '0.5s', '90m'];
const DAY = 86_400_000;
const OFFSETS_DAYS = [-400, -30, -1, -0.01, 0.01, 1, 6, 29, 31, 400];

export const appName = (n: FuzzNames, i: number) => `${n.prefix}-app${i}`;
export const customerName = (n: FuzzNames, i: number) => `${n.prefix}-c${i}`;
const licenseName = (n: FuzzNames, i: number) => `${n.prefix}-l${i}`;
const namespaceName = (n: FuzzNames, i: number) => `${n.prefix}-ns${i}`;

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Credentials references: the good one, missing ones, a foreign one, one of the wrong type. */
export const CREDENTIAL_REFS = (n: FuzzNames) => {
  const p = n.credentials ?? n.prefix;
  return [
    { namespace: OPERATOR_NAMESPACE, name: `${p}-creds` },
    { namespace: OPERATOR_NAMESPACE, name: `${p}-missing` },
    { namespace: OPERATOR_NAMESPACE, name: `${p}-opaque` },
    { namespace: 'kube-system', name: `${p}-foreign` },
  ];
};

export function applicationArb(n: FuzzNames, index: number) {
  return fc.record({
    versions: fc.uniqueArray(fc.constantFrom(...VERSIONS), { maxLength: 5 }),
    tagFormat: fc.constantFrom(undefined, '{version}', 'v{version}', 'release-{version}-final'),
    credentials: fc.option(fc.constantFrom(...CREDENTIAL_REFS(n)), { nil: undefined }),
    server: fc.option(fc.constantFrom('registry.fuzz.example', 'registry.fuzz.example:5000'), { nil: undefined }),
  }).map(({ versions, tagFormat, credentials, server }) => ({
    apiVersion: API_VERSION,
    kind: 'Application',
    metadata: { name: appName(n, index) },
    spec: {
      images: [`registry.fuzz.example/${n.prefix}/app${index}`],
      versions: versions.map((version) => ({ version })),
      ...(tagFormat ? { tagFormat } : {}),
      ...(credentials ? { registry: { ...(server ? { server } : {}), credentialsSecret: credentials } } : {}),
    },
  }));
}

export function customerArb(n: FuzzNames, index: number) {
  return fc.record({
    namespaces: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    admission: fc.constantFrom(undefined, 'Deny', 'Warn', 'Audit'),
    onViolation: fc.constantFrom(undefined, 'ScaleToZero', 'Delete', 'None'),
  }).map(({ namespaces, admission, onViolation }) => ({
    apiVersion: API_VERSION,
    kind: 'Customer',
    metadata: { name: customerName(n, index) },
    spec: {
      ...(namespaces ? { namespaces: namespaces.map((i) => namespaceName(n, i)) } : {}),
      ...(admission || onViolation ? { enforcement: { ...(admission ? { admission } : {}), ...(onViolation ? { onViolation } : {}) } } : {}),
    },
  }));
}

/** `now` anchors the dates; customers and applications are picked among `customers` + 1 and `apps` + 1 (one never exists). */
export function licenseArb(n: FuzzNames, index: number, now: number, counts: { customers: number; apps: number; licenses: number }) {
  const offset = fc.constantFrom(...OFFSETS_DAYS).map((d) => rfc3339(now + d * DAY));
  return fc.record({
    customer: fc.integer({ min: 0, max: counts.customers }),
    application: fc.integer({ min: 0, max: counts.apps }),
    versions: fc.uniqueArray(fc.constantFrom(...CONSTRAINTS), { minLength: 1, maxLength: 3 }),
    revokedVersions: fc.option(fc.uniqueArray(fc.constantFrom(...VERSIONS), { maxLength: 4 }), { nil: undefined }),
    notBefore: fc.option(offset, { nil: undefined }),
    expiresAt: fc.option(offset, { nil: undefined }),
    gracePeriod: fc.option(fc.constantFrom(...DURATIONS), { nil: undefined }),
    suspended: fc.boolean(),
    type: fc.constantFrom(undefined, 'Commercial', 'Trial', 'Free'),
    trialDays: fc.option(fc.integer({ min: 1, max: 365 }), { nil: undefined }),
    requires: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: counts.licenses }), { maxLength: 3 }), { nil: undefined }),
    credentials: fc.option(fc.constantFrom(...CREDENTIAL_REFS(n)), { nil: undefined }),
    maxReplicas: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  }).map((g) => {
    // Respect the CRD's own cross-field rules: these objects are ones the API server stores.
    const dated = g.notBefore && g.expiresAt && g.expiresAt <= g.notBefore ? { notBefore: g.expiresAt, expiresAt: g.notBefore } : g;
    const sameInstant = dated.notBefore && dated.notBefore === dated.expiresAt;
    return {
      apiVersion: API_VERSION,
      kind: 'License',
      metadata: { name: licenseName(n, index) },
      spec: {
        customer: customerName(n, g.customer),
        application: appName(n, g.application),
        versions: g.versions,
        suspended: g.suspended,
        ...(g.revokedVersions ? { revokedVersions: g.revokedVersions } : {}),
        ...(dated.notBefore && !sameInstant ? { notBefore: dated.notBefore } : {}),
        ...(dated.expiresAt ? { expiresAt: dated.expiresAt } : {}),
        ...(g.gracePeriod ? { gracePeriod: g.gracePeriod } : {}),
        ...(g.type ? { type: g.type } : {}),
        ...(g.type === 'Trial' && g.trialDays ? { trialDays: g.trialDays } : {}),
        ...(g.requires ? { requires: g.requires.map((i) => licenseName(n, i)).filter((r) => r !== licenseName(n, index)) } : {}),
        ...(g.credentials ? { registryCredentialsSecret: g.credentials } : {}),
        ...(g.type === 'Free' || g.maxReplicas !== undefined ? { limits: { maxReplicas: g.maxReplicas ?? 3 } } : {}),
      },
    };
  });
}

/** A whole world: applications, customers, licenses that reference each other (or nothing). */
export function worldArb(n: FuzzNames, now: number, sizes = { apps: 3, customers: 3, licenses: 6 }) {
  return fc.record({
    applications: fc.tuple(...Array.from({ length: sizes.apps }, (_, i) => applicationArb(n, i))),
    customers: fc.tuple(...Array.from({ length: sizes.customers }, (_, i) => customerArb(n, i))),
    licenses: fc.tuple(...Array.from({ length: sizes.licenses }, (_, i) => licenseArb(n, i, now, sizes))),
  });
}
