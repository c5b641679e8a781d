/** `licensegate keygen --out DIR`: a new Ed25519 vendor key pair. */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { keyIdOf } from '../../licensing/signature.js';
import { CliError, ExitCode } from '../errors.js';
import { print } from '../output.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .summary('make a vendor signing key pair')
    .description(
      'Makes an Ed25519 key pair for signing licenses: DIR/vendor.key (PKCS#8 PEM, mode 0600: keep it secret, it signs licenses) and DIR/vendor.pub (SPKI PEM: give it to customers, the operator verifies with it). Prints the key id that signed licenses will name.',
    )
    .requiredOption('--out <dir>', 'directory to write vendor.key and vendor.pub into (created if missing)')
    .option('--force', 'overwrite an existing key pair in DIR (licenses signed with the old key stop verifying)')
    .action((options: { out: string; force?: boolean }) => {
      const keyFile = join(options.out, 'vendor.key');
      const pubFile = join(options.out, 'vendor.pub');
      if (!options.force && (existsSync(keyFile) || existsSync(pubFile))) {
        throw new CliError(`${keyFile} or ${pubFile} exists already; pick another --out directory or pass --force to replace the key pair`, ExitCode.Usage);
      }
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      try {
        mkdirSync(options.out, { recursive: true });
        writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
        writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, { mode: 0o644, flag: options.force ? 'w' : 'wx' });
      } catch (error) {
        throw new CliError(`cannot write the key pair into ${options.out}: ${(error as Error).message}`, ExitCode.Failure);
      }
      print(`key id: ${keyIdOf(publicKey)}\nprivate key: ${keyFile} (keep it secret)\npublic key: ${pubFile} (install it with: helm install … --set-file signing.publicKeys=${pubFile})`);
    });
}
