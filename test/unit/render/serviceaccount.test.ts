import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADDED_PULL_SECRETS_ANNOTATION, planServiceAccountPullSecrets } from '../../../src/render/serviceaccount.js';

type Account = Parameters<typeof planServiceAccountPullSecrets>[0];

const account = (names: string[], added?: string): Account => ({
  metadata: { name: 'default', namespace: 'acme', annotations: added === undefined ? {} : { [ADDED_PULL_SECRETS_ANNOTATION]: added } },
  imagePullSecrets: names.map((name) => ({ name })),
});

/** The account after applying a planned change (what the merge patch writes). */
function applied(before: Account, change: ReturnType<typeof planServiceAccountPullSecrets>): Account {
  if (!change.change) return before;
  return account(change.imagePullSecrets.map((r) => r.name), change.added ?? undefined);
}

describe('planServiceAccountPullSecrets', () => {
  it('adds the wanted pull secrets to an empty default ServiceAccount and remembers them', () => {
    expect(planServiceAccountPullSecrets(account([]), ['licensegate-pull-b', 'licensegate-pull-a'])).toEqual({
      change: true,
      imagePullSecrets: [{ name: 'licensegate-pull-a' }, { name: 'licensegate-pull-b' }],
      added: 'licensegate-pull-a,licensegate-pull-b',
    });
  });

  it('keeps the owner\'s entries first and in place', () => {
    const change = planServiceAccountPullSecrets(account(['their-registry']), ['licensegate-pull-a']);
    expect(change).toMatchObject({ imagePullSecrets: [{ name: 'their-registry' }, { name: 'licensegate-pull-a' }], added: 'licensegate-pull-a' });
  });

  it('changes nothing once converged', () => {
    expect(planServiceAccountPullSecrets(account(['their-registry', 'licensegate-pull-a'], 'licensegate-pull-a'), ['licensegate-pull-a'])).toEqual({ change: false });
  });

  it('removes only what it added when the pull secret goes, and drops the annotation', () => {
    const change = planServiceAccountPullSecrets(account(['their-registry', 'licensegate-pull-a'], 'licensegate-pull-a'), []);
    expect(change).toEqual({ change: true, imagePullSecrets: [{ name: 'their-registry' }], added: null });
  });

  it('never removes a name the owner listed before the operator wanted it', () => {
    // The owner named the operator's Secret themselves: it is theirs, also after the operator stops wanting it.
    const before = account(['licensegate-pull-a']);
    const withWanted = applied(before, planServiceAccountPullSecrets(before, ['licensegate-pull-a']));
    expect(withWanted.imagePullSecrets).toEqual([{ name: 'licensegate-pull-a' }]);
    const after = applied(withWanted, planServiceAccountPullSecrets(withWanted, []));
    expect(after.imagePullSecrets).toEqual([{ name: 'licensegate-pull-a' }]);
  });

  it('ignores blank names and a blank annotation (nothing to write for them)', () => {
    expect(planServiceAccountPullSecrets({ metadata: { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: ' , ' } }, imagePullSecrets: [{ name: '' }, {}] }, [])).toEqual({
      change: false,
    });
  });

  it('for any owner list and wanted sets: keeps the owner\'s entries, lists exactly the wanted, converges in one step, and takes back all it added', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'licensegate-pull-x', 'licensegate-pull-y', 'licensegate-pull-z');
    fc.assert(
      fc.property(fc.uniqueArray(name), fc.array(name), fc.array(name), (owners, first, second) => {
        let sa = account(owners);
        for (const wanted of [first, second]) {
          sa = applied(sa, planServiceAccountPullSecrets(sa, wanted));
          const names = sa.imagePullSecrets!.map((r) => r.name!);
          expect(names.slice(0, owners.length)).toEqual(owners);
          for (const w of wanted) expect(names).toContain(w);
          expect(new Set(names).size).toBe(names.length);
          expect(planServiceAccountPullSecrets(sa, wanted)).toEqual({ change: false });
        }
        sa = applied(sa, planServiceAccountPullSecrets(sa, []));
        expect(sa.imagePullSecrets!.map((r) => r.name)).toEqual(owners);
      }),
    );
  });
});
