/** A fresh gate token: 256 random bits, base64url (43 characters). Shell: randomness lives here, not in render/. */
import { randomBytes } from 'node:crypto';
import { GATE_TOKEN_BYTES } from '../vocabulary/gate.js';

export function newGateToken(): string {
  return randomBytes(GATE_TOKEN_BYTES).toString('base64url');
}
