#!/usr/bin/env node
/**
 * The `licensegate` command (also installed as `kubectl-licensegate`, so `kubectl licensegate …`
 * works). Wiring only: each subcommand lives in commands/ and registers itself on the program.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { CliError, ExitCode } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('licensegate')
    .description('Entitlement-gated deployments: sign, verify, activate and inspect licenses; run the registry gate.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes:
  ${ExitCode.Ok}  done; the license checked or activated is valid and Active
  ${ExitCode.Failure}  the license is not valid or not Active (the reason is printed)
  ${ExitCode.Usage}  the command line or an input file is wrong: fix it and run again
  ${ExitCode.Unavailable}  the cluster or a server could not be reached or refused the request

The cluster is the current context of KUBECONFIG (else ~/.kube/config), as for kubectl.
From a checkout: npm run -s licensegate -- ARGS`,
    );
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? ExitCode.Ok : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit through here with code 0; usage errors were already printed.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`licensegate: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`licensegate: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.Failure;
  }
}

// Run when executed (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(^|[\\/])(main\.(ts|js)|licensegate|kubectl-licensegate)$/.test(invoked)) {
  process.exitCode = await main(process.argv);
}
