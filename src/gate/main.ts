/**
 * Entry point of the gate container: `node dist/src/gate/main.js --listen … --tls-cert …`, the
 * same command as `licensegate gate` without loading the rest of the CLI (its other commands'
 * libraries would only cost the gate memory).
 */
import { Command, CommanderError } from 'commander';
import { registerGate } from '../cli/commands/gate.js';
import { CliError } from '../cli/errors.js';

const program = new Command('licensegate-gate').exitOverride();
registerGate(program);
try {
  await program.parseAsync(['gate', ...process.argv.slice(2)], { from: 'user' });
} catch (error) {
  if (!(error instanceof CommanderError && error.exitCode === 0)) {
    process.stderr.write(`licensegate gate: ${(error as Error).message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : error instanceof CommanderError ? 2 : 1;
  }
}
