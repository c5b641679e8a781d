import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child process whose stdout and stderr go to a log file. */
export interface LoggedProcess {
  /** Short name for messages, e.g. `etcd`. */
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Settles when the process has exited (and been reaped); never rejects. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How to spawn a {@link LoggedProcess}. */
export interface SpawnLoggedOptions {
  logFile: string;
  /**
   * Own process group and no reference from this event loop, so the process outlives its
   * parent (the `cluster:up` CLI) and a Ctrl-C in the parent's terminal does not reach it.
   */
  detached?: boolean;
}

/** Spawns `command` with output appended to `options.logFile` (never to the terminal). */
export function spawnLogged(name: string, command: string, args: readonly string[], options: SpawnLoggedOptions): LoggedProcess {
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: options.detached ?? false });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A spawn failure (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  if (child.pid === undefined) {
    throw new Error(`cannot start ${name} (${command}): spawn failed; is it an executable for this machine?`);
  }
  if (options.detached) child.unref();
  return { name, child, pid: child.pid, logFile: options.logFile, exited };
}

/** Sends SIGTERM, then SIGKILL after `graceMs`, and waits until the process has exited. */
export async function stopProcess(proc: LoggedProcess, graceMs = 5_000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = sleep(graceMs, 'timeout' as const);
  if ((await Promise.race([proc.exited.then(() => 'exited' as const), timer])) === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/**
 * Whether `pid` names a live process. A zombie counts as dead: where PID 1 does not reap
 * orphans (some sandboxes), a killed detached process lingers as a zombie that `kill(pid, 0)`
 * still reports as present.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The one-letter state from `/proc/<pid>/stat` (Linux), or undefined where there is no procfs. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Stops processes this process did not spawn (the CLI's `down`): SIGTERM, wait up to
 * `graceMs`, SIGKILL the rest, wait again. Pids already gone are skipped.
 */
export async function stopPids(pids: readonly number[], graceMs = 5_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids.filter(isAlive)) {
      try {
        process.kill(pid, sig);
      } catch {
        // Exited between the check and the signal.
      }
    }
  };
  signal('SIGTERM');
  if (await waitUntilDead(pids, graceMs)) return;
  signal('SIGKILL');
  if (!(await waitUntilDead(pids, 5_000))) {
    throw new Error(`processes ${pids.filter(isAlive).join(', ')} survived SIGKILL`);
  }
}

async function waitUntilDead(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** The last `lines` lines of a log file, for error messages; empty when it does not exist. */
export function tailFile(path: string, lines = 25): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Whether the command line of `pid` contains `text` (Linux procfs). Guards against signalling
 * an unrelated process that reused a recorded pid, e.g. after a reboot. Without procfs there is
 * no way to tell, so it answers true.
 */
export function commandLineMentions(pid: number, text: string): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return !existsSync('/proc/self');
  }
  return cmdline.includes(text);
}
