/**
 * `licensegate activate FILE`: apply a signed License and report the operator's judgement.
 * `--key KEY --server URL` fetches the License, signed and bound to this cluster, from the
 * vendor's activation server first.
 */
import type { Command } from 'commander';
import { fetchActivation } from '../activation-client.js';
import { CliError, ExitCode } from '../errors.js';
import { connect } from '../kube.js';
import { cleanManifest, readLicenseFile } from '../license-file.js';
import { applyLicense, waitForJudgement } from '../licenses.js';
import { print } from '../output.js';

export interface ActivateOptions {
  key?: string;
  server?: string;
  timeout: string;
}

export function registerActivate(program: Command): void {
  program
    .command('activate')
    .summary('apply a signed License and wait for the verdict')
    .description(
      'Applies the signed License in FILE to the current cluster (exactly as signed: the live spec is replaced), waits until the licensegate operator has judged it, and prints its phase and reason. Exit 0 only when it is Active. Online: --key KEY --server URL asks the vendor\'s activation server for a License bound to this cluster and applies that.',
    )
    .argument('[file]', 'a YAML file holding one signed License (from the vendor, or licensegate sign)')
    .option('--key <key>', 'activation key from the vendor (online activation; needs --server)')
    .option('--server <url>', 'the vendor\'s activation server, e.g. https://licenses.vendor.example')
    .option('--timeout <seconds>', 'how long to wait for the operator\'s verdict', '60')
    .action(async (file: string | undefined, options: ActivateOptions) => {
      const timeoutMs = Number(options.timeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout "${options.timeout}" must be a positive number of seconds`, ExitCode.Usage);
      const online = options.key !== undefined || options.server !== undefined;
      if (online && file) throw new CliError('give either a license FILE or --key and --server, not both', ExitCode.Usage);
      if (online && (!options.key || !options.server)) throw new CliError('online activation needs both --key KEY and --server URL', ExitCode.Usage);
      if (!online && !file) throw new CliError('give the signed license FILE to activate, or --key KEY --server URL for online activation', ExitCode.Usage);
      // Everything is checked before anything is written: a bad file applies nothing.
      const fileLicense = file ? cleanManifest(readLicenseFile(file)) : undefined;
      const cluster = connect();
      let license = fileLicense;
      license ??= await fetchActivation(cluster, { key: options.key!, server: options.server! });
      const generation = await applyLicense(cluster, license);
      const judged = await waitForJudgement(cluster, license.metadata.name, generation, timeoutMs);
      const active = judged.status?.conditions?.find((c) => c.type === 'Active');
      print(`license ${license.metadata.name}: ${judged.status?.phase} (${active?.reason ?? '-'}): ${active?.message ?? ''}`);
      if (judged.status?.phase !== 'Active') process.exitCode = ExitCode.Failure;
    });
}
