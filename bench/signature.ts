/**
 * Benchmark (not a test): what signed licenses add to planning, the operator's per-customer
 * pure step. Plans N customers with three licenses each, unsigned (the baseline) and signed,
 * and prints time per plan and per signature check side by side.
 *
 *   npm run bench:signature -- --customers 2000
 *
 * "memoised" is the operator's case after its first reconcile of a license: the Ed25519 result
 * is reused (src/reconcile/signature-cache.ts), the spec comparison is not.
 */
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { API_VERSION, type Application, type Customer, type License } from '../src/api/index.js';
import { keyIdOf, signLicense } from '../src/licensing/signature.js';
import { memoizedVerifier } from '../src/reconcile/signature-cache.js';
import { planCustomer, type CustomerWorld } from '../src/render/plan.js';

const customers = Number(/--customers[= ](\d+)/.exec(process.argv.slice(2).join(' '))?.[1] ?? 1000);
const ROUNDS = 5;
const now = new Date('2026-12-02T12:00:00Z');
const vendor = generateKeyPairSync('ed25519');
const keys = new Map([[keyIdOf(vendor.publicKey), vendor.publicKey]]);
const signing = { keys, required: false, clusterId: 'bench-cluster' };

const apps: Application[] = ['api', 'gateway', 'tools'].map((name) => ({
  apiVersion: API_VERSION,
  kind: 'Application',
  metadata: { name },
  spec: { images: [`registry.example/${name}`], versions: ['1.0.0', '1.1.0', '2.0.0'].map((version) => ({ version })), tagFormat: '{version}' },
}));

async function worlds(signed: boolean, memo = false): Promise<CustomerWorld[]> {
  const settings = memo ? { ...signing, verify: memoizedVerifier(keys) } : signing;
  const result: CustomerWorld[] = [];
  for (let i = 0; i < customers; i++) {
    const name = `customer-${i}`;
    const customer: Customer = { apiVersion: API_VERSION, kind: 'Customer', metadata: { name }, spec: { enforcement: { admission: 'Deny', onViolation: 'ScaleToZero' } } };
    const licenses: License[] = [];
    for (const app of apps) {
      const license: License = {
        apiVersion: API_VERSION,
        kind: 'License',
        metadata: { name: `${name}-${app.metadata.name}`, creationTimestamp: '2026-01-01T00:00:00Z' },
        spec: { customer: name, application: app.metadata.name, versions: ['>=1.0.0 <2.0.0'], expiresAt: '2027-12-31T00:00:00Z', suspended: false, type: 'Commercial' },
      };
      if (signed) license.spec.signature = await signLicense(license, { privateKey: vendor.privateKey, sequence: 1, issuedAt: now, cluster: 'bench-cluster' });
      licenses.push(license);
    }
    result.push({ now, customerName: name, customer, applications: apps, licenses, credentials: new Map(), namespaceOwners: new Map(), signing: settings });
  }
  return result;
}

/** Best time per variant; rounds interleave the variants so that warm-up and load hit all alike. */
function measure(variants: CustomerWorld[][]): number[] {
  const best = variants.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach((all, i) => {
      const start = performance.now();
      for (const world of all) {
        const plan = planCustomer(world);
        if ([...plan.evaluations.values()].some((e) => e.phase !== 'Active')) throw new Error('a license is not Active: the benchmark is broken');
      }
      best[i] = Math.min(best[i]!, performance.now() - start);
    });
  }
  return best;
}

// The operator's shape is "memoised": verification reused per process, so resyncs after the first reuse it.
const [base, withSignatures, withMemo] = measure([await worlds(false), await worlds(true), await worlds(true, true)]) as [number, number, number];
const checks = customers * apps.length;
const row = (label: string, total: number) => `${label.padEnd(10)} ${total.toFixed(1).padStart(10)} ms ${((total / customers) * 1000).toFixed(1).padStart(10)} µs`;
console.log(`${customers} customers × ${apps.length} licenses, best of ${ROUNDS} rounds`);
console.log(`${'licenses'.padEnd(10)} ${'all plans'.padStart(13)} ${'per plan'.padStart(13)}`);
console.log(row('unsigned', base));
console.log(row('signed', withSignatures));
console.log(row('memoised', withMemo));
console.log(`added per signature check: ${(((withSignatures - base) / checks) * 1000).toFixed(1)} µs cold, ${(((withMemo - base) / checks) * 1000).toFixed(1)} µs memoised`);
