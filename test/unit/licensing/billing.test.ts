import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerSpec } from '../../../src/api/index.js';
import { recordUsageSample, replicaHoursByMonth, RESAMPLE_MS } from '../../../src/licensing/billing.js';
import { HOUR, MINUTE } from '../fixtures.js';

const empty: LedgerSpec = { customer: 'globex', application: 'analytics' };
const at = (iso: string) => new Date(iso);
const sample = (iso: string, replicas: number, namespaces = 0, seatHolders: string[] = []) => ({ at: at(iso), replicas, namespaces, seatHolders });

describe('recordUsageSample', () => {
  it('keeps peaks, seat holders and replica-hours per UTC month, and splits hours at the month boundary', () => {
    let spec = recordUsageSample(empty, sample('2027-01-31T22:00:00Z', 3, 1, ['jane']))!;
    spec = recordUsageSample(spec, sample('2027-02-01T02:00:00Z', 1, 2, ['bob']))!;
    expect(spec.usage).toEqual([
      { month: '2027-01', peakReplicas: 3, peakNamespaces: 1, seatHolders: ['jane'], replicaHours: 6 },
      { month: '2027-02', peakReplicas: 1, peakNamespaces: 2, seatHolders: ['bob'], replicaHours: 6 },
    ]);
    expect(spec.lastSample).toEqual({ at: '2027-02-01T02:00:00Z', replicas: 1 });
  });

  it('writes nothing while nothing changed and the last sample is recent; then refreshes it hourly', () => {
    const spec = recordUsageSample(empty, sample('2027-01-10T00:00:00Z', 2))!;
    expect(recordUsageSample(spec, { ...sample('2027-01-10T00:00:00Z', 2), at: new Date(Date.parse('2027-01-10T00:00:00Z') + 10 * MINUTE) })).toBeUndefined();
    const later = recordUsageSample(spec, { ...sample('2027-01-10T00:00:00Z', 2), at: new Date(Date.parse('2027-01-10T00:00:00Z') + RESAMPLE_MS) })!;
    expect(later.usage?.[0]?.replicaHours).toBe(2);
  });

  it('never loses replica-hours, however the samples fall (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 72 * 60 }), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 30 }), (steps) => {
      let t = Date.parse('2027-01-30T00:00:00Z');
      let spec: LedgerSpec = { ...empty, lastSample: { at: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'), replicas: 0 } };
      let expected = 0;
      let replicas = 0;
      for (const [minutes, next] of steps) {
        const to = t + minutes * MINUTE;
        expected += (replicas * (to - t)) / HOUR;
        spec = recordUsageSample(spec, { at: new Date(to), replicas: next, namespaces: 0, seatHolders: [] }) ?? spec;
        if (spec.lastSample && Date.parse(spec.lastSample.at) === to) replicas = next;
        else expected -= (replicas * (to - t)) / HOUR; // not written: accrues on the next write instead
        if (spec.lastSample && Date.parse(spec.lastSample.at) === to) t = to;
      }
      const recorded = (spec.usage ?? []).reduce((sum, m) => sum + m.replicaHours, 0);
      expect(Math.abs(recorded - expected)).toBeLessThan(0.01 * steps.length + 1e-6);
    }));
  });

  it('splits any interval exactly across months', () => {
    const split = replicaHoursByMonth(Date.parse('2027-01-31T23:00:00Z'), Date.parse('2027-03-01T01:00:00Z'), 1);
    expect([...split]).toEqual([['2027-01', 1], ['2027-02', 28 * 24], ['2027-03', 1]]);
  });
});

describe('recordUsageSample: nothing to record', () => {
  it('starts no record for an application never used (a Ledger may exist for its trial alone)', () => {
    expect(recordUsageSample(empty, sample('2027-01-10T00:00:00Z', 0))).toBeUndefined();
  });
});
