/**
 * The customer-facing banner: a ConfigMap `licensegate-status` in every customer namespace
 * with one human-readable line per license (phase, expiry, usage against limits, a warning
 * near a limit or expiry) and the same data as JSON. Tenants may read it (the chart's viewer
 * role). Pure.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { License, LicenseStatus } from '../api/index.js';
import { ownedLabels } from '../vocabulary/labels.js';
import { APPROACHING, limitUses } from './usage.js';

export const STATUS_CONFIGMAP_NAME = 'licensegate-status';
/** A license expiring within this many days gets a warning in its banner line. */
export const BANNER_EXPIRY_DAYS = 7;

/** One license as the banner shows it. */
export interface BannerEntry {
  license: string;
  application: string;
  phase: string;
  expiresAt?: string;
  usage: { limit: string; used: number; max: number }[];
  warning?: string;
}

export function bannerEntry(license: License, status: LicenseStatus, now: Date): BannerEntry {
  const usage = status.usage;
  const uses = limitUses(license, { replicas: usage?.replicas ?? 0, namespaces: usage?.namespaces ?? [], seatHolders: usage?.seatHolders ?? [] });
  const warnings: string[] = [];
  const over = uses.filter((u) => u.used >= u.max);
  const near = uses.filter((u) => u.used < u.max && u.used >= APPROACHING * u.max);
  if (over.length > 0) warnings.push(`limit reached: ${over.map((u) => u.limit).join(', ')}`);
  if (near.length > 0) warnings.push(`near the limit: ${near.map((u) => u.limit).join(', ')}`);
  const expires = status.effectiveExpiresAt ? Date.parse(status.effectiveExpiresAt) : undefined;
  if (expires !== undefined && status.phase === 'Active' && expires - now.getTime() <= BANNER_EXPIRY_DAYS * 86_400_000) warnings.push(`expires ${status.effectiveExpiresAt}`);
  if (status.phase && status.phase !== 'Active') warnings.push(`license is ${status.phase}`);
  return {
    license: license.metadata.name,
    application: license.spec.application,
    phase: status.phase ?? 'Pending',
    ...(status.effectiveExpiresAt ? { expiresAt: status.effectiveExpiresAt } : {}),
    usage: uses,
    ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
  };
}

/** "gold (analytics): Active until 2027-01-01T00:00:00Z; maxReplicas 4/5 — WARNING: near the limit: maxReplicas" */
export function bannerLine(e: BannerEntry): string {
  const until = e.expiresAt ? ` until ${e.expiresAt}` : '';
  const usage = e.usage.length > 0 ? `; ${e.usage.map((u) => `${u.limit} ${u.used}/${u.max}`).join(', ')}` : '';
  return `${e.license} (${e.application}): ${e.phase}${until}${usage}${e.warning ? ` — WARNING: ${e.warning}` : ''}`;
}

export function renderStatusConfigMap(args: { namespace: string; customer: string; entries: BannerEntry[] }): V1ConfigMap {
  const entries = [...args.entries].sort((a, b) => (a.license < b.license ? -1 : 1));
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: STATUS_CONFIGMAP_NAME, namespace: args.namespace, labels: ownedLabels(args.customer) },
    data: {
      banner: entries.length === 0 ? 'no licenses\n' : `${entries.map(bannerLine).join('\n')}\n`,
      'status.json': JSON.stringify({ customer: args.customer, licenses: entries }, null, 2),
    },
  };
}
