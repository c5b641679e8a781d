/** `licensegate verify --public-key vendor.pub FILE`: is this signed license genuine and unchanged? */
import type { Command } from 'commander';
import { readPublicKeys } from '../../keys.js';
import { SignatureReason, checkLicenseSignature, verifySignature } from '../../licensing/signature.js';
import { CliError, ExitCode } from '../errors.js';
import { readLicenseFile } from '../license-file.js';
import { parseFormat, print, structured } from '../output.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .summary('check a signed License file (offline)')
    .description(
      `Checks the signature of the License in FILE against the vendor public key(s). Exit 0 and the signed claims when it is genuine and unchanged; exit 1 and the reason when not: ${Object.values(SignatureReason).filter((r) => r !== 'Rollback').join(', ')}.`,
    )
    .argument('<file>', 'a YAML file holding one signed License')
    .requiredOption('--public-key <file>', 'vendor public key(s): a PEM file (several keys may follow each other) or a directory of them')
    .option('--cluster-id <uid>', 'also check that the license is bound to this cluster or to none (default: report the binding only)')
    .option('-o, --output <format>', 'json or yaml', 'yaml')
    .action((file: string, options: { publicKey: string; clusterId?: string; output: string }) => {
      const format = parseFormat(options.output, ['json', 'yaml']) as 'json' | 'yaml';
      const license = readLicenseFile(file);
      let keys;
      try {
        keys = readPublicKeys(options.publicKey);
      } catch (error) {
        throw new CliError((error as Error).message, ExitCode.Usage);
      }
      const jws = license.spec.signature;
      if (!jws) throw new CliError(`${file}: ${SignatureReason.SignatureRequired}: the License carries no spec.signature; sign it with licensegate sign`, ExitCode.Failure);
      const signature = verifySignature(jws, keys);
      if (!signature.ok) throw new CliError(`${file}: ${signature.reason}: ${signature.message}`, ExitCode.Failure);
      const verdict = checkLicenseSignature(license, {
        keys,
        required: true,
        clusterId: options.clusterId ?? signature.claims.cluster,
        acceptedSequence: undefined,
      });
      if (verdict.state === 'Refused') throw new CliError(`${file}: ${verdict.reason}: ${verdict.message}`, ExitCode.Failure);
      const { spec: _spec, ...claims } = signature.claims;
      print(structured({ valid: true, ...claims }, format));
    });
}
