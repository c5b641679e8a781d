import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../src/cli/errors.js';
import { parseLicense } from '../../../src/cli/license-file.js';

const LICENSE = 'apiVersion: licensegate.dev/v1alpha1\nkind: License\nmetadata: {name: a}\nspec: {customer: c, application: x, versions: ["1.0.0"]}\n';

describe('parseLicense', () => {
  it('reads one License', () => {
    expect(parseLicense(LICENSE, 'f').metadata.name).toBe('a');
    expect(parseLicense(`---\n${LICENSE}---\n`, 'f').metadata.name).toBe('a');
  });

  it('refuses anything else with a CliError (exit 2), never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => JSON.stringify(v)), fc.constantFrom(LICENSE.slice(0, 40), `${LICENSE}---\n${LICENSE}`, '[]', 'null', '---\n---', '*!', 'a: *x')), (text) => {
        try {
          parseLicense(text, 'f');
        } catch (error) {
          expect(error).toBeInstanceOf(CliError);
          expect((error as CliError).exitCode).toBe(ExitCode.Usage);
          expect((error as CliError).message).not.toContain('\n');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
