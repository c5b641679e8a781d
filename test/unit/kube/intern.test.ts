import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInterner } from '../../../src/kube/intern.js';

describe('createInterner', () => {
  it('leaves every object deep-equal to what it was', () => {
    const intern = createInterner({ maxEntries: 50 });
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = structuredClone(value);
        expect(intern(value)).toEqual(copy);
      }),
    );
  });

  it('shares one copy of equal values across objects, but not of unique ones, and stops growing when full', () => {
    const intern = createInterner({ maxEntries: 3 });
    const parse = (rv: string) => JSON.parse(`{"metadata":{"resourceVersion":"${rv}","labels":{"c":"acme"}},"spec":{"tags":["1.0.0","2.0.0"]}}`);
    const a = intern(parse('1'));
    const b = intern(parse('1'));
    // Same string contents either way; the table holds 'acme', '1.0.0', '2.0.0' (3 entries), never '1'.
    expect(b).toEqual(a);
    const c = intern({ note: 'new-after-full' });
    expect(c).toEqual({ note: 'new-after-full' });
  });
});
