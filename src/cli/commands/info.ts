/** `licensegate info [LICENSE]`: what a license grants, until when, against which limits, and its signature. */
import type { Command } from 'commander';
import type { License } from '../../api/index.js';
import { parseDuration } from '../../licensing/duration.js';
import { SignatureReason, licenseClaims } from '../../licensing/signature.js';
import { clusterId, connect } from '../kube.js';
import { getLicense, listLicenses } from '../licenses.js';
import { details, parseFormat, print, structured, table } from '../output.js';

export interface LimitUsage {
  limit: 'maxReplicas' | 'concurrentNamespaces' | 'seats';
  allowed: number;
  used: number | undefined;
}

export type SignatureInfo =
  | { signed: false }
  | {
      signed: true;
      keyId?: string;
      sequence?: number;
      issuedAt?: string;
      /** The cluster the license is bound to, if any. */
      cluster?: string;
      boundToThisCluster?: boolean;
      /** The operator's verdict on the signature: Accepted, one of the refusal reasons, or NotYetJudged. */
      verdict: string;
    };

export interface LicenseInfo {
  name: string;
  customer: string;
  application: string;
  type: string;
  phase: string | undefined;
  reason: string | undefined;
  message: string | undefined;
  versions: string[];
  grantedVersions: string[];
  expiresAt: string | undefined;
  effectiveExpiresAt: string | undefined;
  gracePeriod: string | undefined;
  /** When running workloads stop being left alone: effective expiry plus grace. */
  graceEndsAt: string | undefined;
  trialStartedAt: string | undefined;
  limits: LimitUsage[];
  signature: SignatureInfo;
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .summary('show licenses: phase, versions, expiry, limits, signature')
    .description(
      'Without LICENSE, lists every License on the cluster. With LICENSE, shows its customer and application, phase and reason, granted versions, expiry and grace period, limits against current usage, and its signature (key id, sequence, cluster binding, the operator\'s verdict).',
    )
    .argument('[license]', 'name of a License')
    .option('-o, --output <format>', 'json or yaml (default: a table for people)')
    .action(async (name: string | undefined, options: { output?: string }) => {
      const format = parseFormat(options.output, ['table', 'json', 'yaml']);
      const cluster = connect();
      const licenses = name ? [await getLicense(cluster, name)] : await listLicenses(cluster);
      const thisCluster = licenses.some((l) => claimsOf(l)?.cluster) ? await clusterId(cluster).catch(() => undefined) : undefined;
      const infos = licenses.map((l) => licenseInfo(l, thisCluster)).sort((a, b) => (a.name < b.name ? -1 : 1));
      if (format === 'json' || format === 'yaml') return print(structured(name ? infos[0] : infos, format));
      if (name) return print(describe(infos[0]!));
      if (infos.length === 0) return print(`no Licenses on ${cluster.server}`);
      print(
        table(
          ['NAME', 'CUSTOMER', 'APPLICATION', 'PHASE', 'REASON', 'GRANTED', 'EXPIRES', 'SIGNED'],
          infos.map((i) => [i.name, i.customer, i.application, i.phase, i.reason, i.grantedVersions.join(','), i.effectiveExpiresAt ?? 'never', i.signature.signed ? i.signature.verdict : 'no']),
        ),
      );
    });
}

function claimsOf(license: License) {
  const jws = license.spec.signature;
  if (!jws) return undefined;
  try {
    return licenseClaims.partial().parse(JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')));
  } catch {
    return {};
  }
}

export function licenseInfo(license: License, thisCluster: string | undefined): LicenseInfo {
  const status = license.status;
  const active = status?.conditions?.find((c) => c.type === 'Active');
  const valid = status?.conditions?.find((c) => c.type === 'Valid');
  const limits = license.spec.limits ?? {};
  const usage = status?.usage;
  const limitRows: LimitUsage[] = [];
  if (limits.maxReplicas !== undefined) limitRows.push({ limit: 'maxReplicas', allowed: limits.maxReplicas, used: usage?.replicas });
  if (limits.concurrentNamespaces !== undefined) limitRows.push({ limit: 'concurrentNamespaces', allowed: limits.concurrentNamespaces, used: usage?.namespaces?.length });
  if (limits.seats !== undefined) limitRows.push({ limit: 'seats', allowed: limits.seats, used: usage?.seats });
  const claims = claimsOf(license);
  const signatureReasons = Object.values(SignatureReason) as string[];
  const verdict = !status?.phase
    ? 'NotYetJudged'
    : valid?.status === 'False' && signatureReasons.includes(valid.reason)
      ? valid.reason
      : 'Accepted';
  const signature: SignatureInfo = claims
    ? {
        signed: true,
        ...(claims.kid ? { keyId: claims.kid } : {}),
        ...(claims.sequence !== undefined ? { sequence: claims.sequence } : {}),
        ...(claims.issuedAt ? { issuedAt: claims.issuedAt } : {}),
        ...(claims.cluster ? { cluster: claims.cluster, ...(thisCluster ? { boundToThisCluster: claims.cluster === thisCluster } : {}) } : {}),
        verdict,
      }
    : { signed: false };
  return {
    name: license.metadata.name,
    customer: license.spec.customer,
    application: license.spec.application,
    type: license.spec.type ?? 'Commercial',
    phase: status?.phase,
    reason: active?.reason,
    message: active?.message,
    versions: license.spec.versions,
    grantedVersions: status?.grantedVersions ?? [],
    expiresAt: license.spec.expiresAt,
    effectiveExpiresAt: status?.effectiveExpiresAt,
    gracePeriod: license.spec.gracePeriod,
    graceEndsAt: graceEnd(status?.effectiveExpiresAt, license.spec.gracePeriod),
    trialStartedAt: status?.trialStartedAt,
    limits: limitRows,
    signature,
  };
}

function describe(i: LicenseInfo): string {
  const sig = i.signature;
  const lines: [string, string | number | undefined][] = [
    ['License', i.name],
    ['Customer', i.customer],
    ['Application', i.application],
    ['Type', i.type],
    ['Phase', i.phase ? `${i.phase} (${i.reason})` : 'not judged yet (is the operator running?)'],
    ['Message', i.message],
    ['Versions', i.versions.join(', ')],
    ['Granted', i.grantedVersions.join(', ') || 'none'],
    ['Expires', i.effectiveExpiresAt ?? (i.expiresAt ? i.expiresAt : 'never')],
    ['Grace period', i.gracePeriod ? `${i.gracePeriod}${i.graceEndsAt ? ` (running workloads left alone until ${i.graceEndsAt})` : ''}` : 'none'],
    ...(i.trialStartedAt ? [['Trial started', i.trialStartedAt] as [string, string]] : []),
    ['Limits', i.limits.length === 0 ? 'none' : i.limits.map((l) => `${l.limit} ${l.used ?? '?'}/${l.allowed}`).join(', ')],
    [
      'Signature',
      sig.signed
        ? `${sig.verdict}; key ${sig.keyId ?? '?'}, sequence ${sig.sequence ?? '?'}, issued ${sig.issuedAt ?? '?'}, ${sig.cluster ? `bound to cluster ${sig.cluster}${sig.boundToThisCluster === false ? ' (NOT this cluster)' : sig.boundToThisCluster ? ' (this cluster)' : ''}` : 'not bound to a cluster'}`
        : 'unsigned',
    ],
  ];
  return details(lines);
}

function graceEnd(expiry: string | undefined, grace: string | undefined): string | undefined {
  if (!expiry) return undefined;
  const ms = grace ? (parseDuration(grace) ?? 0) : 0;
  return new Date(Date.parse(expiry) + ms).toISOString().replace(/\.000Z$/, 'Z');
}
