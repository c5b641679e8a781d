/**
 * Fuzzing through the real API server: over a thousand generated Applications, Customers and
 * Licenses that the CRD schema accepts but that are wrong in every way the generator knows
 * (test/fuzz/generators.ts). The operator must neither crash nor stall: every License ends with
 * a phase for its current generation, every Invalid one with a readable reason, every Customer
 * and Application with a Ready condition, what is Active is granted in its customer's
 * namespaces, and a License created afterwards still converges at once.
 */
import fc from 'fast-check';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type Application, type Customer, type License, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import type { Operator } from '../../src/operator.js';
import { worldArb } from '../fuzz/generators.js';
import { eventually, kubeConfig, uniqueName } from './context.js';
import { deleteByPrefix } from './cleanup.js';
import { startOperator, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const crd = (plural: string) => `/apis/${GROUP}/${VERSION}/${plural}`;
const WORLDS = Number(process.env['LICENSEGATE_FUZZ_WORLDS'] ?? 90);
const run = uniqueName('fz');
const credentials = `${run}-shared`;
const mine = (o: { metadata: { name: string } }) => o.metadata.name.startsWith(run);

let operator: Operator;
const stored = { Application: 0, Customer: 0, License: 0 };
const refused: string[] = [];

beforeAll(async () => {
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${credentials}-creds`, namespace: 'licensegate-system' }, type: 'kubernetes.io/basic-auth', stringData: { username: 'u', password: 'p' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${credentials}-opaque`, namespace: 'licensegate-system' }, type: 'Opaque', stringData: { x: 'y' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${credentials}-foreign`, namespace: 'kube-system' }, type: 'kubernetes.io/basic-auth', stringData: { username: 'stolen', password: 'stolen' } },
  ], { fieldManager: 'test' });
  // The canary's Application exists from the start: a new Application re-plans every customer (every policy gates it).
  await applyObjects(kc, [{ apiVersion: API_VERSION, kind: 'Application', metadata: { name: `${run}-canary-app` }, spec: { images: [`registry.fuzz.example/${run}-canary-app`], versions: [{ version: '1.0.0' }] } }], { fieldManager: 'test' });
  operator = await startOperator(kc);
  const now = Date.now();
  for (let w = 0; w < WORLDS; w++) {
    const [world] = fc.sample(worldArb({ prefix: `${run}-w${w}`, credentials }, now), { numRuns: 1, seed: 20261202 + w });
    for (const object of [...world!.applications, ...world!.customers, ...world!.licenses] as KubernetesObject[]) {
      try {
        await applyObjects(kc, [object], { fieldManager: 'test' });
        stored[object.kind as keyof typeof stored]++;
      } catch (error) {
        // The schema refused it: not one of the objects this test is about, but worth seeing.
        refused.push(`${object.kind} ${object.metadata?.name}: ${apiError(error).message}`);
      }
    }
  }
}, 300_000);

afterAll(async () => {
  if (process.env['LICENSEGATE_FUZZ_DEBUG']) {
    console.log(await operator.metrics.registry.getSingleMetricAsString('licensegate_reconcile_total'));
    console.log(await operator.metrics.registry.getSingleMetricAsString('licensegate_api_writes_total'));
    await new Promise((r) => setTimeout(r, 5000));
    console.log(await operator.metrics.registry.getSingleMetricAsString('licensegate_reconcile_total'));
    console.log(await operator.metrics.registry.getSingleMetricAsString('licensegate_api_writes_total'));
  }
  if (operator) await deleteByPrefix(kc, run, operator);
  await operator?.stop();
}, 300_000);

describe(`fuzzing the operator through the API server (${WORLDS} generated worlds)`, () => {
  it('stores over a thousand generated objects (the schema accepts them)', () => {
    const total = stored.Application + stored.Customer + stored.License;
    console.log(`fuzz: stored ${JSON.stringify(stored)} (${total} objects), schema refused ${refused.length}${refused.length ? `: ${refused.slice(0, 3).join(' | ')}` : ''}`);
    expect(total).toBeGreaterThanOrEqual(Math.min(1000, WORLDS * 11));
  });

  it('gives every License a phase for its generation, and every Invalid one a readable reason', { timeout: 300_000 }, async () => {
    const started = Date.now();
    await watchUntilPasses<License>(kc, crd('licenses'), (all) => {
      const licenses = all.filter(mine);
      expect(licenses).toHaveLength(stored.License);
      for (const l of licenses) {
        expect(l.status?.observedGeneration, l.metadata.name).toBe(l.metadata.generation);
        if (l.status?.phase === 'Invalid') {
          const valid = l.status.conditions?.find((c) => c.type === 'Valid');
          expect(valid?.status).toBe('False');
          expect(valid?.message.length).toBeGreaterThan(10);
          expect(valid?.message).not.toMatch(/undefined|\[object Object\]|NaN/);
        }
      }
    }, 240_000);
    const licenses = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses' })) as { items: License[] };
    const phases: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    for (const l of licenses.items.filter(mine)) {
      phases[l.status!.phase!] = (phases[l.status!.phase!] ?? 0) + 1;
      const reason = l.status!.conditions!.find((c) => c.type === (l.status!.phase === 'Invalid' ? 'Valid' : 'Active'))!.reason;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    console.log(`fuzz: converged in ${Date.now() - started} ms; phases ${JSON.stringify(phases)}; reasons ${JSON.stringify(reasons)}`);
    expect(phases['Invalid']).toBeGreaterThan(0);
    expect(phases['Active']).toBeGreaterThan(0);
  });

  it('gives every Customer and Application a Ready condition', async () => {
    await watchUntilPasses<Customer>(kc, crd('customers'), (all) => {
      for (const c of all.filter(mine)) expect(c.status?.conditions?.find((x) => x.type === 'Ready'), c.metadata.name).toBeDefined();
    }, 120_000);
    await watchUntilPasses<Application>(kc, crd('applications'), (all) => {
      for (const a of all.filter(mine)) expect(a.status?.conditions?.find((x) => x.type === 'Ready'), a.metadata.name).toBeDefined();
    }, 120_000);
  });

  it('grants what is Active in its customer namespaces, and never copies the foreign Secret', async () => {
    // A License's status and its customer's VersionPolicies are separate writes: compare them once the operator has settled.
    await operator.whenIdle();
    const checked = await eventually(async () => {
      const [licenses, customers, policies] = await Promise.all(
        ['licenses', 'customers', 'versionpolicies'].map((plural) => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }).then((r) => (r as { items: unknown[] }).items)),
      ) as [License[], Customer[], VersionPolicy[]];
      let count = 0;
      for (const l of licenses.filter(mine)) {
        if (l.status?.phase !== 'Active' || (l.status.grantedVersions ?? []).length === 0) continue;
        const customer = customers.find((c) => c.metadata.name === l.spec.customer)!;
        for (const ns of customer.status?.namespaces ?? []) {
          const policy = policies.find((p) => p.metadata.namespace === ns);
          const licensed = Object.values(policy?.spec.repositories ?? {}).some((r) => r.licenses.includes(l.metadata.name));
          expect(licensed, `${l.metadata.name} in ${ns}`).toBe(true);
          count++;
        }
      }
      return count;
    }, 60_000);
    console.log(`fuzz: ${checked} active grants checked in VersionPolicies`);
    const secrets = await kc.makeApiClient(CoreV1Api).listSecretForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=licensegate' });
    expect(JSON.stringify(secrets.items.map((s) => s.data))).not.toContain(Buffer.from('stolen:stolen').toString('base64'));
  });

  it('is not stalled: a License created now converges at once', async () => {
    const app = `${run}-canary-app`;
    const customer = `${run}-canary`;
    const started = Date.now();
    await operator.whenIdle();
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: `${run}-canary-lic` }, spec: { customer, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await watchUntilPasses<License>(kc, crd('licenses'), (all) => expect(all.find((l) => l.metadata.name === `${run}-canary-lic`)?.status?.phase).toBe('Active'), 5_000);
    console.log(`fuzz: canary converged in ${Date.now() - started} ms`);
  });
});
