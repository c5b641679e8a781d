/**
 * The CEL policy and the TypeScript decision must agree. Generated (image reference,
 * VersionPolicy) cases go through the real API server (server-side dry run) and through
 * decideAdmission(); the verdicts must be identical.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, VERSION_POLICY_NAME, type VersionPolicySpec } from '../../src/api/index.js';
import { decideAdmission } from '../../src/enforcement/decide.js';
import { ADMISSION_LABEL } from '../../src/vocabulary/labels.js';
import { applyObjects } from '../../src/kube/apply.js';
import { CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { installAdmissionPolicy, podWith, serverVerdict, untilAdmission } from './admission-harness.js';
import { kubeConfig, uniqueName } from './context.js';

const kc = kubeConfig();
const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
const D3 = 'sha256:' + '3'.repeat(64);

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const policies: VersionPolicySpec[] = [
  {
    customer: 'diff-a',
    admission: 'Deny',
    repositories: {
      'registry.example.com/acme/api': { allowedTags: ['2.4.1', 'v2.5.0'], allowedDigests: [D1], licenses: ['lic-a'] },
      'docker.io/library/nginx': { allowedTags: ['1.25', 'latest'], allowedDigests: [], licenses: ['lic-nginx'] },
      'localhost:5000/team/tool': { allowedTags: ['1.0.0'], allowedDigests: [D2], licenses: ['lic-tool'] },
    },
  },
  {
    customer: 'diff-b',
    admission: 'Deny',
    repositories: {
      'registry.example.com/acme/api': { allowedTags: [], allowedDigests: [], licenses: [] },
      'docker.io/acme/worker': { allowedTags: ['3.0.0'], allowedDigests: [D3], licenses: ['lic-w'] },
      'docker.io/library/nginx': { allowedTags: [], allowedDigests: [], licenses: [] },
    },
  },
  {
    customer: 'diff-c',
    admission: 'Deny',
    repositories: {
      'registry.example.com:8443/acme/api': { allowedTags: ['2.4.1'], allowedDigests: [D1, D2], licenses: ['lic-c'] },
      'docker.io/library/redis': { allowedTags: ['7'], allowedDigests: [], licenses: ['lic-r'] },
    },
  },
];

const names = [
  'registry.example.com/acme/api', 'registry.example.com:8443/acme/api', 'nginx', 'library/nginx', 'docker.io/nginx',
  'docker.io/library/nginx', 'index.docker.io/library/nginx', 'index.docker.io/nginx', 'acme/worker', 'docker.io/acme/worker',
  'localhost:5000/team/tool', 'localhost/team/tool', 'redis', 'ghcr.io/other/thing', 'registry.example.com/acme/apix',
  'registry.example.com/acme', 'quay.io/acme/api',
];
const tags = ['', '2.4.1', 'v2.5.0', '2.5.0', '1.25', 'latest', '1.0.0', '3.0.0', '7', '7.2', 'V2.4.1'];
const digests = ['', '', D1, D2, D3];

/** Image references from all the shapes the runtime accepts. */
function generateImages(count: number, next: () => number): string[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const tag = pick(tags);
    const digest = pick(digests);
    out.push(`${pick(names)}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);
  }
  return out;
}

describe('CEL policy and decideAdmission()', () => {
  const namespaces = policies.map((p) => uniqueName(p.customer));

  beforeAll(async () => {
    await installAdmissionPolicy(kc);
    for (const [i, ns] of namespaces.entries()) {
      await applyObjects(kc, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [CUSTOMER_LABEL]: policies[i]!.customer, [ADMISSION_LABEL]: 'Deny' } } },
        { apiVersion: API_VERSION, kind: 'VersionPolicy', metadata: { name: VERSION_POLICY_NAME, namespace: ns }, spec: policies[i]! },
      ], { fieldManager: 'test' });
    }
    // The policy is live once a surely-unlicensed image is refused in every namespace.
    for (const ns of namespaces) {
      await untilAdmission(async () => !(await serverVerdict(kc, podWith(ns, 'probe', ['registry.example.com/acme/api:0.0.0-none', 'registry.example.com:8443/acme/api:0.0.0-none', 'docker.io/library/nginx:none']))).allowed);
    }
  });

  it('agree on 330 generated single-image pods and 60 multi-container pods', async () => {
    const next = random(20261122);
    const disagreements: string[] = [];
    let denied = 0;
    let cases = 0;
    for (const [i, ns] of namespaces.entries()) {
      const singles = generateImages(110, next).map((image) => [image]);
      const multis = Array.from({ length: 20 }, () => generateImages(1 + Math.floor(next() * 3), next));
      for (const images of [...singles, ...multis]) {
        const init = images.length > 1 && next() < 0.5 ? [images.pop()!] : [];
        const pod = podWith(ns, `p${cases}`, images, init);
        const server = await serverVerdict(kc, pod);
        const local = decideAdmission({ operation: 'CREATE', object: pod }, policies[i]!);
        cases++;
        if (!server.allowed) denied++;
        if (server.allowed !== local.allowed) {
          disagreements.push(`${ns} ${JSON.stringify([...images, ...init])}: server ${server.allowed} (${server.message}) vs TS ${local.allowed}`);
        } else if (!local.allowed) {
          // Same refusal text, up to what the API server puts around it.
          expect(server.message).toContain(local.message);
        }
      }
    }
    console.log(`differential: ${cases} cases, ${denied} refused, ${cases - denied} admitted`);
    expect(disagreements).toEqual([]);
    expect(cases).toBeGreaterThanOrEqual(300);
    // Both verdicts must be well represented, or the comparison proves little.
    expect(denied).toBeGreaterThan(cases / 5);
    expect(cases - denied).toBeGreaterThan(cases / 5);
  });
});
