/** The operator's logger: JSON lines, secret-shaped fields redacted wherever they appear. */
import { pino, type Logger } from 'pino';

/** Paths pino blanks out, so no credentials reach a log line even by accident. */
const REDACT = ['data', '*.data', '*.*.data', 'stringData', '*.stringData', 'password', '*.password', 'token', '*.token', 'auth', '*.auth'];

export function createLogger(level: string, name = 'licensegate'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
