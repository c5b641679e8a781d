import { describe, expect, it } from 'vitest';
import { ActivationReason, decideActivation, decideRegeneration, decideTrial, regenerated, type ActivationRecord } from '../../../src/licensing/activation.js';
import { DAY, NOW, after, iso } from '../fixtures.js';

const record = (overrides: Partial<ActivationRecord> = {}): ActivationRecord => ({ license: 'acme-prod', key: 'k1', createdAt: iso(NOW), ...overrides });

describe('decideActivation', () => {
  it('binds the first cluster; the same cluster again is fine; another is refused', () => {
    expect(decideActivation(record(), 'c1')).toEqual({ ok: true, bind: true });
    expect(decideActivation(record({ activatedCluster: 'c1' }), 'c1')).toEqual({ ok: true, bind: false });
    const refused = decideActivation(record({ activatedCluster: 'c1', activatedAt: iso(NOW) }), 'c2');
    expect(refused).toMatchObject({ ok: false, reason: ActivationReason.AlreadyActivated });
    expect(!refused.ok && refused.message).toMatch(/already activated.*regenerate/);
  });
});

describe('decideRegeneration', () => {
  it('the first regeneration is allowed; another within 30 days is refused; after 30 days allowed', () => {
    expect(decideRegeneration(record(), NOW)).toEqual({ ok: true });
    const last = record({ regeneratedAt: iso(NOW) });
    expect(decideRegeneration(last, after(29 * DAY))).toMatchObject({ ok: false, reason: ActivationReason.RegeneratedRecently });
    expect(decideRegeneration(last, after(30 * DAY - 1000))).toMatchObject({ ok: false });
    expect(decideRegeneration(last, after(30 * DAY))).toEqual({ ok: true });
  });

  it('a regenerated record has the new key and no cluster bound', () => {
    const next = regenerated(record({ activatedCluster: 'c1', activatedAt: iso(NOW) }), 'k2', after(DAY));
    expect(next).toEqual({ license: 'acme-prod', key: 'k2', createdAt: iso(NOW), regeneratedAt: iso(after(DAY)) });
    expect(decideActivation(next, 'c2')).toEqual({ ok: true, bind: true });
  });
});

describe('decideTrial', () => {
  it('one trial per cluster and application; the same trial may be fetched again', () => {
    expect(decideTrial(undefined, 'trial-a', 'app', 'c1')).toEqual({ ok: true });
    expect(decideTrial('trial-a', 'trial-a', 'app', 'c1')).toEqual({ ok: true });
    expect(decideTrial('trial-a', 'trial-b', 'app', 'c1')).toMatchObject({ ok: false, reason: ActivationReason.TrialAlreadyUsed });
  });
});
