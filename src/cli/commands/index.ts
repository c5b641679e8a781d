/** Every subcommand of the licensegate CLI, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerGate } from './gate.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerGate];
