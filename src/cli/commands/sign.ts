/** `licensegate sign --key vendor.key FILE`: the License manifest with spec.signature set. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { readPrivateKey } from '../../keys.js';
import { signLicense, signableSpec } from '../../licensing/signature.js';
import { CliError, ExitCode } from '../errors.js';
import { cleanManifest, readLicenseFile } from '../license-file.js';
import { print } from '../output.js';

export function registerSign(program: Command): void {
  program
    .command('sign')
    .summary('sign a License manifest')
    .description(
      'Signs the License in FILE ("-" for stdin) with the vendor key and prints the manifest with spec.signature set (compact JWS, EdDSA). The output applies as is: licensegate activate signed.yaml, or kubectl apply -f. The signature covers the name and the whole spec; any later edit makes the license Invalid.',
    )
    .argument('<file>', 'a YAML file holding one License')
    .requiredOption('--key <file>', 'the vendor private key (vendor.key from licensegate keygen)')
    .option('--cluster-id <uid>', 'bind the license to one cluster: the UID its admin gets from licensegate cluster-id')
    .option('--sequence <n>', 'sequence number; a cluster refuses a sequence lower than one it accepted for the same customer and application, so a newer signed License of that pair supersedes older ones: put one pair\'s grants in one License (default: the issue time in Unix seconds, so later signatures win)')
    .option('--issued-at <time>', 'issue time to record, RFC 3339 (default: now)')
    .action(async (file: string, options: { key: string; clusterId?: string; sequence?: string; issuedAt?: string }) => {
      const license = readLicenseFile(file);
      let privateKey;
      try {
        privateKey = readPrivateKey(options.key);
      } catch (error) {
        throw new CliError((error as Error).message, ExitCode.Usage);
      }
      const issuedAt = options.issuedAt === undefined ? new Date() : new Date(options.issuedAt);
      if (Number.isNaN(issuedAt.getTime())) throw new CliError(`--issued-at "${options.issuedAt}" is not an RFC 3339 time such as 2027-01-01T00:00:00Z`, ExitCode.Usage);
      const sequence = options.sequence === undefined ? Math.floor(issuedAt.getTime() / 1000) : Number(options.sequence);
      if (!Number.isSafeInteger(sequence) || sequence < 0) throw new CliError(`--sequence "${options.sequence}" must be a whole number ≥ 0`, ExitCode.Usage);
      if (options.clusterId !== undefined && !/^[0-9a-f-]{8,64}$/i.test(options.clusterId)) {
        throw new CliError(`--cluster-id "${options.clusterId}" does not look like a namespace UID; run licensegate cluster-id on the customer's cluster`, ExitCode.Usage);
      }
      // What is signed is what is printed: the spec with schema defaults, as the API server stores it.
      const spec = signableSpec(license.spec);
      if (!spec.ok) throw new CliError(`${file}: ${spec.message}`, ExitCode.Usage);
      const manifest = cleanManifest({ ...license, spec: spec.spec });
      const signature = await signLicense(manifest, { privateKey, sequence, issuedAt, ...(options.clusterId ? { cluster: options.clusterId } : {}) });
      // YAML 1.1 quoting: kubectl's parser would otherwise read an unquoted time or "yes" as another type.
      print(stringify({ ...manifest, spec: { ...manifest.spec, signature } }, { lineWidth: 0, version: '1.1' }));
    });
}
