/**
 * Conditional Ledger writes on the real API server: a change that names its fields is a JSON
 * patch that tests them, so racing claims never over-grant, while writes of other fields (the
 * usage record) do not make a claim retry. Written as the operator's ServiceAccount, which the
 * Ledger protection policy exempts; no operator runs here (none would touch these Ledgers'
 * made-up customers anyway, but none can release their tokens either).
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type LedgerSpec } from '../../src/api/index.js';
import { LedgerWriter, type LedgerChange, type LedgerField } from '../../src/reconcile/ledger.js';
import { kubeConfig, uniqueName } from './context.js';
import { operatorKubeConfig } from './operator-harness.js';

const CLAIM_FIELDS: LedgerField[] = ['tokens', 'seats'];
const since = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
let custom: CustomObjectsApi;
/** Two writers with a connection pool each, as two webhook replicas would have; each counts its lost races. */
const writers: { writer: LedgerWriter; conflicts: number }[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const kc = await operatorKubeConfig(kubeConfig());
    const entry = { writer: undefined as unknown as LedgerWriter, conflicts: 0 };
    entry.writer = new LedgerWriter(kc, { onConflict: () => entry.conflicts++ });
    writers.push(entry);
    custom ??= kc.makeApiClient(CustomObjectsApi);
  }
});

/** A Ledger with empty claim lists (as the webhook leaves it after its first claim). */
async function ledger(spec: Partial<LedgerSpec> = {}): Promise<{ customer: string; application: string; stored: Ledger }> {
  const customer = uniqueName('lw');
  const application = 'app';
  const stored = (await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: 'ledgers',
    body: { apiVersion: API_VERSION, kind: 'Ledger', metadata: { name: ledgerName(customer, application) }, spec: { customer, application, tokens: [], seats: [], ...spec } },
  })) as Ledger;
  return { customer, application, stored };
}

/** Takes a token for `namespace` if fewer than `limit` are held: the shape of a webhook claim. */
const claimToken = (namespace: string, limit: number): LedgerChange<boolean> => (spec) => {
  const tokens = spec.tokens ?? [];
  if (tokens.some((t) => t.namespace === namespace)) return { result: true };
  if (tokens.length >= limit) return { result: false };
  return { spec: { ...spec, tokens: [...tokens, { namespace, since: since() }] }, result: true };
};

describe('conditional Ledger writes', () => {
  it('20 claims racing from two writers for 5 tokens, usage records written meanwhile: exactly 5 win, 5 times', async () => {
    for (let run = 0; run < 5; run++) {
      // A usage record is there already (so later ones are patches of their own fields, as in a running cluster).
      const { customer, application } = await ledger({ usage: [], lastSample: { at: since(), replicas: 0 } });
      const namespaces = Array.from({ length: 20 }, (_, i) => `ns-${i}`);
      const usage = (replicas: number): LedgerChange<undefined> => (spec) => ({ spec: { ...spec, lastSample: { at: since(), replicas } }, result: undefined });
      const [claims] = await Promise.all([
        Promise.all(namespaces.map((ns, i) => writers[i % 2]!.writer.change(customer, application, claimToken(ns, 5), { fields: CLAIM_FIELDS }))),
        Promise.all([1, 2, 3].map((n) => writers[n % 2]!.writer.change(customer, application, usage(n), { fields: ['usage', 'lastSample'] }))),
      ]);
      expect(claims.filter((c) => c.result).length).toBe(5);
      const stored = (await writers[0]!.writer.read(customer, application))!;
      expect(stored.spec.tokens!.map((t) => t.namespace).sort()).toEqual(namespaces.filter((_, i) => claims[i]!.result).sort());
      expect(stored.spec.lastSample).toBeDefined();
    }
  }, 120_000);

  it('a usage record written after the claim read its copy makes the claim retry once, as a patch; a claim written meanwhile is seen', async () => {
    const { customer, application, stored: copy } = await ledger();
    const [a, b] = writers as [(typeof writers)[0], (typeof writers)[0]];
    await a.writer.change(customer, application, (spec) => ({ spec: { ...spec, lastSample: { at: since(), replicas: 3 } }, result: undefined }), { fields: ['usage', 'lastSample'] });
    const before = b.conflicts;
    const first = await b.writer.change(customer, application, claimToken('ns-a', 2), { known: copy, fields: CLAIM_FIELDS });
    expect({ wrote: first.wrote, result: first.result, lostRaces: b.conflicts - before }).toEqual({ wrote: true, result: true, lostRaces: 1 });
    expect(first.ledger?.spec.lastSample?.replicas).toBe(3);
    // From the same stale copy again: tokens changed since, so the test fails and the claim is decided on the live Ledger.
    const second = await a.writer.change(customer, application, claimToken('ns-b', 2), { known: copy, fields: CLAIM_FIELDS });
    expect(second.ledger?.spec.tokens?.map((t) => t.namespace)).toEqual(['ns-a', 'ns-b']);
    const third = await a.writer.change(customer, application, claimToken('ns-c', 2), { known: copy, fields: CLAIM_FIELDS });
    expect(third).toMatchObject({ wrote: false, result: false });
  });

  it('an invalid value is refused at once, not retried as if it had lost a race', async () => {
    const { customer, application } = await ledger({ tokens: [{ namespace: 'ns-a', since: since() }] });
    const write = writers[0]!.writer.change(customer, application, (spec) => ({ spec: { ...spec, tokens: [{ namespace: 'x'.repeat(64), since: since() }] }, result: undefined }), { fields: CLAIM_FIELDS });
    await expect(write).rejects.toThrow(/after 1 attempt\(s\): 422 .*Too long/);
  });
});
