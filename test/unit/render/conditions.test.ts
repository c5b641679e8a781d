import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../src/api/index.js';
import { mergeConditions, rfc3339, type DesiredCondition } from '../../../src/render/conditions.js';
import { Reason } from '../../../src/licensing/reasons.js';
import { DAY, NOW, before, iso } from '../fixtures.js';

const EARLIER = iso(before(DAY));

const current: Condition[] = [
  { type: 'Valid', status: 'True', reason: Reason.Valid, message: 'ok', lastTransitionTime: EARLIER, observedGeneration: 1 },
  { type: 'Active', status: 'True', reason: Reason.Active, message: 'active', lastTransitionTime: EARLIER, observedGeneration: 1 },
];

describe('mergeConditions', () => {
  it('gives new conditions lastTransitionTime now', () => {
    const desired: DesiredCondition[] = [{ type: 'Active', status: 'True', reason: Reason.Active, message: 'active' }];
    expect(mergeConditions(undefined, desired, NOW, 3)).toEqual([
      { type: 'Active', status: 'True', reason: Reason.Active, message: 'active', lastTransitionTime: iso(NOW), observedGeneration: 3 },
    ]);
  });

  it.each<[string, DesiredCondition, string]>([
    ['unchanged status keeps its lastTransitionTime', { type: 'Active', status: 'True', reason: Reason.Active, message: 'active' }, EARLIER],
    [
      'unchanged status with a new reason and message still keeps it',
      { type: 'Active', status: 'True', reason: Reason.Active, message: 'active until next year' },
      EARLIER,
    ],
    ['a flip to False moves it to now', { type: 'Active', status: 'False', reason: Reason.Expired, message: 'expired' }, iso(NOW)],
    ['a flip to Unknown moves it to now', { type: 'Active', status: 'Unknown', reason: 'Unknown', message: '?' }, iso(NOW)],
  ])('%s', (_name, desired, lastTransitionTime) => {
    const [merged] = mergeConditions(current, [desired], NOW, 2);
    expect(merged).toEqual({ ...desired, lastTransitionTime, observedGeneration: 2 });
  });

  it('sets observedGeneration on every condition, kept or flipped', () => {
    const merged = mergeConditions(
      current,
      [
        { type: 'Valid', status: 'True', reason: Reason.Valid, message: 'ok' },
        { type: 'Active', status: 'False', reason: Reason.Suspended, message: 'suspended' },
      ],
      NOW,
      7,
    );
    expect(merged.map((c) => [c.type, c.observedGeneration, c.lastTransitionTime])).toEqual([
      ['Valid', 7, EARLIER],
      ['Active', 7, iso(NOW)],
    ]);
  });

  it('leaves observedGeneration out when the generation is unknown', () => {
    const [merged] = mergeConditions(undefined, [{ type: 'Ready', status: 'True', reason: 'Reconciled', message: '' }], NOW, undefined);
    expect(merged).not.toHaveProperty('observedGeneration');
  });

  it('keeps the desired order and drops conditions no longer desired', () => {
    const merged = mergeConditions(
      current,
      [
        { type: 'ExpiringSoon', status: 'False', reason: Reason.NotExpiringSoon, message: '' },
        { type: 'Active', status: 'True', reason: Reason.Active, message: 'active' },
      ],
      NOW,
      1,
    );
    expect(merged.map((c) => c.type)).toEqual(['ExpiringSoon', 'Active']);
  });

  it('is a fixed point: merging its own output again changes nothing, even later', () => {
    const desired: DesiredCondition[] = [{ type: 'Active', status: 'False', reason: Reason.Expired, message: 'expired' }];
    const once = mergeConditions(current, desired, NOW, 2);
    expect(mergeConditions(once, desired, new Date(NOW.getTime() + DAY), 2)).toEqual(once);
  });

  it('does not modify the current conditions', () => {
    const copy = structuredClone(current);
    mergeConditions(current, [{ type: 'Active', status: 'False', reason: Reason.Expired, message: '' }], NOW, 5);
    expect(current).toEqual(copy);
  });
});

describe('rfc3339', () => {
  it.each([
    [new Date('2026-03-01T12:00:00.000Z'), '2026-03-01T12:00:00Z'],
    [new Date('2026-03-01T12:00:00.999Z'), '2026-03-01T12:00:00Z'],
    [new Date('1999-12-31T23:59:59.001Z'), '1999-12-31T23:59:59Z'],
  ])('%s → %s (second precision, as metav1.Time)', (date, expected) => {
    expect(rfc3339(date)).toBe(expected);
  });
});
