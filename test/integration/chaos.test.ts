/**
 * Kills, short (the full run is `npm run chaos`): 50 customers converge once undisturbed and
 * once with the operator process SIGKILLed 5 times at random moments; the end states match,
 * and the kills cause no storm of repeated Events.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runChaos } from '../../bench/lib/chaos.js';
import { deleteByPrefix } from './cleanup.js';
import { kubeConfig, uniqueName } from './context.js';

describe('the operator SIGKILLed during cold convergence', () => {
  const prefix = uniqueName('chaos');
  afterAll(() => deleteByPrefix(kubeConfig(), prefix), 300_000);

  it('ends in the same state as an undisturbed run', { timeout: 600_000 }, async () => {
    const result = await runChaos({
      kc: kubeConfig(),
      kubeconfigPath: inject('kubeconfig'),
      repoRoot: join(import.meta.dirname, '..', '..'),
      customers: 50,
      kills: 5,
      seed: 20261202,
      prefix,
      timeoutMs: 240_000,
      log: (line) => console.log(`chaos: ${line}`),
    });
    expect(result.chaos.restarts).toBe(5);
    expect(result.differences.slice(0, 5)).toEqual([]);
    // A killed operator repeats at most what it had not yet recorded as written.
    expect(result.chaos.events).toBeLessThanOrEqual(result.calm.events * 1.5 + 10);
  });
});
