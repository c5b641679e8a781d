/** Exit codes of the licensegate command, and the error type that carries one. */

export const ExitCode = {
  Ok: 0,
  /** The thing checked is not valid (verify: bad signature; activate: the license is not Active). */
  Failure: 1,
  /** The command line or an input file is wrong: fix the input. */
  Usage: 2,
  /** The cluster or a server could not be reached or refused the request. */
  Unavailable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: its message is printed as one line, and the process exits with its code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode = ExitCode.Failure) {
    super(message);
  }
}
