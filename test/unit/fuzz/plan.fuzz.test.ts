/**
 * The pure core against generated worlds of wrong-but-storable Licenses, Customers and
 * Applications (test/fuzz/generators.ts), plus specs no schema would accept (stored under an
 * older one): planning never throws, every License gets a phase, an Invalid one says why in
 * words, nothing is granted that the catalogue lacks, nothing is copied from a foreign Secret,
 * and the same world always plans the same. Fixed seed, many cases.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Application, Customer, License } from '../../../src/api/index.js';
import { planCustomer } from '../../../src/render/plan.js';
import type { CredentialsSecret } from '../../../src/render/pullsecret.js';
import { CREDENTIAL_REFS, OPERATOR_NAMESPACE, worldArb } from '../../fuzz/generators.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const names = { prefix: 'fz' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const [good, , opaque, foreign] = CREDENTIAL_REFS(names);
const CREDENTIALS = new Map<string, CredentialsSecret>([
  [`${good!.namespace}/${good!.name}`, { type: 'kubernetes.io/basic-auth', data: { username: b64('u'), password: b64('p') } }],
  [`${opaque!.namespace}/${opaque!.name}`, { type: 'Opaque', data: { x: b64('y') } }],
  [`${foreign!.namespace}/${foreign!.name}`, { type: 'kubernetes.io/basic-auth', data: { username: b64('stolen'), password: b64('stolen') } }],
]);

/** Junk where a spec should be: what an older schema may have let in. */
const junkSpec = fc.oneof(fc.anything(), fc.record({ versions: fc.anything(), customer: fc.string(), application: fc.anything() }, { requiredKeys: [] }));

describe('planCustomer on generated worlds', () => {
  it('never throws, always explains, never grants what does not exist', { timeout: 120_000 }, () => {
    let invalid = 0;
    let active = 0;
    fc.assert(
      fc.property(worldArb(names, NOW), fc.array(junkSpec, { maxLength: 2 }), fc.nat({ max: 3 }), (world, junk, junkTarget) => {
        const licenses = world.licenses.map((l, i) => ({ ...l, metadata: { ...l.metadata, creationTimestamp: `2026-01-0${(i % 9) + 1}T00:00:00Z` } })) as unknown as License[];
        for (const [i, spec] of junk.entries()) licenses.push({ apiVersion: 'licensegate.dev/v1alpha1', kind: 'License', metadata: { name: `fz-junk${i}` }, spec: spec as License['spec'] });
        const customers = world.customers.map((c, i) => (i === junkTarget && junk.length > 0 ? { ...c, spec: junk[0] } : c)) as unknown as Customer[];
        const applications = world.applications as unknown as Application[];
        const catalogue = new Map(applications.map((a) => [a.metadata.name, new Set(a.spec.versions.map((v) => v.version))]));
        for (const name of [...customers.map((c) => c.metadata.name), 'fz-c3']) {
          const input = {
            now: new Date(NOW),
            customerName: name,
            customer: customers.find((c) => c.metadata.name === name),
            applications,
            licenses: licenses.filter((l) => (l.spec as { customer?: unknown } | undefined)?.customer === name),
            credentials: CREDENTIALS,
            namespaceOwners: new Map([['fz-ns0', 'fz-c0']]),
            operatorNamespace: OPERATOR_NAMESPACE,
          };
          const plan = planCustomer(input);
          expect(planCustomer(input)).toEqual(plan);
          for (const license of input.licenses) {
            const status = plan.licenseStatuses.get(license.metadata.name)!;
            expect(['Active', 'Pending', 'Expired', 'Suspended', 'Invalid']).toContain(status.phase);
            if (status.phase === 'Invalid') {
              invalid++;
              const valid = status.conditions!.find((c) => c.type === 'Valid')!;
              expect(valid.status).toBe('False');
              expect(valid.message.length).toBeGreaterThan(10);
              expect(valid.message).not.toMatch(/undefined|\[object Object\]|NaN/);
            }
            if (status.phase === 'Active') active++;
            // Granted: catalogue versions, or exact versions the License names (tags follow from tagFormat); never a revoked one.
            const spec = license.spec as { application?: unknown; versions?: unknown; revokedVersions?: unknown };
            const known = catalogue.get(String(spec.application)) ?? new Set();
            const named = Array.isArray(spec.versions) ? spec.versions : [];
            const revoked = Array.isArray(spec.revokedVersions) ? spec.revokedVersions : [];
            for (const v of status.grantedVersions ?? []) {
              expect(known.has(v) || named.includes(v)).toBe(true);
              expect(revoked).not.toContain(v);
            }
          }
          expect(JSON.stringify(plan.objects)).not.toContain(b64('stolen'));
          for (const o of plan.objects) expect(plan.namespaces).toContain(o.metadata!.namespace);
        }
      }),
      { seed: 20261202, numRuns: 1500 },
    );
    // The generator reaches both sides, not only one.
    expect(invalid).toBeGreaterThan(500);
    expect(active).toBeGreaterThan(500);
  });
});
