import { describe, expect, it } from 'vitest';
import type { LedgerSpec } from '../../../src/api/index.js';
import { fieldPatch } from '../../../src/reconcile/ledger.js';

const since = '2027-01-10T00:00:00Z';
const base: LedgerSpec = {
  customer: 'globex',
  application: 'analytics',
  tokens: [{ namespace: 'a', since }],
  seats: [],
  lastSample: { at: since, replicas: 2 },
};

describe('fieldPatch', () => {
  it('tests every named field as it was decided from, then replaces only what changed', () => {
    const next = { ...base, tokens: [...base.tokens!, { namespace: 'b', since }] };
    expect(fieldPatch(base, next, ['tokens', 'seats'])).toEqual([
      { op: 'test', path: '/spec/tokens', value: [{ namespace: 'a', since }] },
      { op: 'test', path: '/spec/seats', value: [] },
      { op: 'replace', path: '/spec/tokens', value: [{ namespace: 'a', since }, { namespace: 'b', since }] },
    ]);
  });

  it('removes a named field the change dropped', () => {
    const { lastSample: _dropped, ...next } = base;
    expect(fieldPatch(base, next, ['lastSample'])).toEqual([
      { op: 'test', path: '/spec/lastSample', value: { at: since, replicas: 2 } },
      { op: 'remove', path: '/spec/lastSample' },
    ]);
  });

  it('gives up (whole-object condition) when the change writes a field it did not name', () => {
    const next = { ...base, tokens: [], trial: { license: 'l', startedAt: since } };
    expect(fieldPatch(base, next, ['tokens'])).toBeUndefined();
  });

  it('gives up when a named field is absent: a JSON patch cannot test absence', () => {
    const { seats: _absent, ...current } = base;
    expect(fieldPatch(current, { ...current, seats: [{ kind: 'User', name: 'u', since }] }, ['tokens', 'seats'])).toBeUndefined();
  });

  it('ignores key order inside values when telling what changed', () => {
    const reordered = { ...base, lastSample: { replicas: 2, at: since } };
    expect(fieldPatch(base, reordered, ['lastSample'])).toEqual([{ op: 'test', path: '/spec/lastSample', value: base.lastSample }]);
  });
});
