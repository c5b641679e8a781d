/** Every subcommand of the licensegate CLI, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerActivate } from './activate.js';
import { registerActivation } from './activation.js';
import { registerClusterId } from './cluster-id.js';
import { registerGate } from './gate.js';
import { registerInfo } from './info.js';
import { registerKeygen } from './keygen.js';
import { registerSign } from './sign.js';
import { registerUsage } from './usage.js';
import { registerVerify } from './verify.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerKeygen, registerSign, registerVerify, registerClusterId, registerActivate, registerInfo, registerUsage, registerActivation, registerGate];
