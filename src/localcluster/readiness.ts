import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { tailFile, type LoggedProcess } from './processes.js';

/** Status and body of one HTTP(S) GET. */
export interface ProbeResponse {
  status: number;
  body: string;
}

/**
 * One GET with a short timeout. TLS is not verified: probes only talk to loopback ports this
 * harness just started, and the serving certificate may not exist yet when polling begins.
 */
export function probe(url: string, token?: string, timeoutMs = 2_000): Promise<ProbeResponse> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        timeout: timeoutMs,
        rejectUnauthorized: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** What {@link waitUntilReady} waits for. */
export interface WaitOptions {
  /** For messages, e.g. `kube-apiserver /readyz`. */
  what: string;
  /** Returns true when ready; a throw or false means "not yet". */
  check: () => Promise<boolean>;
  /** The process whose log explains a failure; it exiting early fails the wait at once. */
  process: LoggedProcess;
  timeoutMs: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns true. Fails early when the process exits and after
 * `timeoutMs` otherwise; both errors carry the last lines of the process's log.
 */
export async function waitUntilReady(options: WaitOptions): Promise<void> {
  const { what, check, process: proc, timeoutMs, intervalMs = 200 } = options;
  const deadline = Date.now() + timeoutMs;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void proc.exited.then((result) => (exit = result));
  let lastProblem = 'no answer yet';
  for (;;) {
    if (exit) {
      throw new Error(
        `${proc.name} exited (code ${exit.code}, signal ${exit.signal}) before ${what} was ready; ` +
          `last lines of ${proc.logFile}:\n${tailFile(proc.logFile)}`,
      );
    }
    try {
      if (await check()) return;
      lastProblem = 'not ready';
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms (${lastProblem}); last lines of ${proc.logFile}:\n${tailFile(proc.logFile)}`,
      );
    }
    await sleep(intervalMs);
  }
}
