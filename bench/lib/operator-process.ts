/**
 * The operator as a separate process, the way it runs in a pod (`node dist/src/main.js`, the
 * built JavaScript; or `node --import tsx src/main.ts`, which costs memory the image never
 * pays): its JSON log tells where /metrics listens and when it synced and started leading.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseMetrics, type Sample } from './metrics.js';
import { memory } from './proc.js';

export interface OperatorProcessOptions {
  repoRoot: string;
  kubeconfigPath: string;
  resyncSeconds: number;
  workers: number | undefined;
  /** Write a V8 CPU profile of the operator into this directory when it exits (node --cpu-prof). */
  cpuProfileDir?: string | undefined;
  /** Run the TypeScript sources under tsx instead of the built dist/ (see {@link buildOperator}). */
  tsx?: boolean;
  /** More environment for the operator (its configuration). */
  env?: Record<string, string>;
}

/**
 * Node flags the image runs the operator with (Dockerfile CMD; keep the two in step): a young
 * generation of 2 MiB semi-spaces instead of up to 16 MiB (the caches are long-lived objects; a
 * large nursery only adds RSS: 265 → 202 MiB at 1,000 customers), and --optimize-for-size
 * (202 → 156 MiB, for about a third more operator CPU).
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=2', '--optimize-for-size'];

/** Compiles src/ into dist/ (npm run build), so the benchmark runs what the image runs. */
export function buildOperator(repoRoot: string): void {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json')], { cwd: repoRoot, stdio: 'inherit' });
}

/** A log line's level and message, and when it was written (performance.now() clock). */
export interface LogMilestone {
  at: number;
  line: Record<string, unknown>;
  /** The operator's RSS when the benchmark read the line. */
  rss: number | undefined;
}

/** One /healthz probe: when it was sent and how long the answer took (an event-loop stall shows as a slow answer). */
export interface Probe {
  at: number;
  ms: number;
}

const WARN_LEVEL = 40;

export class OperatorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() at spawn. */
  readonly spawnedAt: number;
  /** Resolves with the metrics port from the "operator starting" line; rejects if the process exits first. */
  readonly port: Promise<number>;
  /** Settles when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** First log line of each message, by msg. */
  readonly milestones = new Map<string, LogMilestone>();
  /** Log lines by level name. */
  readonly levelCounts = new Map<string, number>();
  /** Warnings and errors (first 20). */
  readonly problems: string[] = [];
  private readonly stderrTail: string[] = [];
  private stopping = false;
  private metricsUrl: string | undefined;
  /** Time spent scraping /metrics (ms), for the report. */
  readonly scrapeMs: number[] = [];
  /** /healthz answers, see {@link startProbing}. */
  readonly probes: Probe[] = [];
  private probing = false;

  constructor(options: OperatorProcessOptions) {
    this.spawnedAt = performance.now();
    const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    // BENCH_OPERATOR_NODE_FLAGS (space-separated, may be empty) replaces the image's flags, to measure what they cost.
    const flags = process.env.BENCH_OPERATOR_NODE_FLAGS?.split(' ').filter(Boolean) ?? OPERATOR_NODE_FLAGS;
    const entry = options.tsx ? ['--import', 'tsx', join(options.repoRoot, 'src', 'main.ts')] : [...flags, join(options.repoRoot, 'dist', 'src', 'main.js')];
    this.child = spawn(process.execPath, [...profile, ...entry], {
      cwd: options.repoRoot,
      env: {
        ...process.env,
        KUBECONFIG: options.kubeconfigPath,
        LICENSEGATE_HTTP_PORT: '0',
        LICENSEGATE_LEADER_ELECTION: 'false',
        LOG_LEVEL: 'info',
        LICENSEGATE_RESYNC_SECONDS: String(options.resyncSeconds),
        ...(options.workers === undefined ? {} : { LICENSEGATE_WORKERS: String(options.workers) }),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('cannot spawn the operator process');
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.port = new Promise<number>((resolve, reject) => {
      let buffered = '';
      this.child.stdout!.setEncoding('utf8');
      this.child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const text = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const line = this.onLogLine(text);
          if (line?.msg === 'operator starting' && typeof line.port === 'number') resolve(line.port);
        }
      });
      void this.exited.then(({ code, signal }) => reject(new Error(`operator exited (code ${code}, signal ${signal}) before logging "operator starting"${this.tail()}`)));
    });
    this.port.catch(() => undefined);
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail.push(...chunk.split('\n').filter((l) => l.trim() !== ''));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - 20));
    });
  }

  /** Rejects if the operator exits while `promise` is pending (unless it is being stopped). */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([
      promise,
      this.exited.then(({ code, signal }) => {
        if (this.stopping) return new Promise<never>(() => undefined);
        throw new Error(`operator exited unexpectedly (code ${code}, signal ${signal})${this.tail()}`);
      }),
    ]);
  }

  /** Scrapes and parses /metrics. */
  async metrics(): Promise<Sample[]> {
    this.metricsUrl ??= `http://127.0.0.1:${await this.port}/metrics`;
    const started = performance.now();
    const response = await this.guard(fetch(this.metricsUrl));
    if (!response.ok) throw new Error(`operator /metrics answered ${response.status}`);
    const text = await response.text();
    this.scrapeMs.push(performance.now() - started);
    return parseMetrics(text);
  }

  /**
   * Asks /healthz every `intervalMs` (one request at a time) until stopped. /healthz does no
   * work, so its latency is how long the operator's event loop kept requests waiting.
   */
  startProbing(intervalMs = 100): void {
    if (this.probing) return;
    this.probing = true;
    void (async () => {
      const url = `http://127.0.0.1:${await this.port}/healthz`;
      while (this.probing) {
        const at = performance.now();
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
          await response.text();
          this.probes.push({ at, ms: performance.now() - at });
        } catch {
          // The process is going away; the guard reports unexpected exits.
          if (!this.probing) break;
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Probe latencies sent within [from, to) (performance.now() clock). */
  probesBetween(from: number, to: number): number[] {
    return this.probes.filter((p) => p.at >= from && p.at < to).map((p) => p.ms);
  }

  /** SIGTERM (the operator drains), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.probing = false;
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private onLogLine(text: string): Record<string, unknown> | undefined {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const level = typeof line.level === 'number' ? line.level : 0;
    const levelName = ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[level] ?? String(level);
    this.levelCounts.set(levelName, (this.levelCounts.get(levelName) ?? 0) + 1);
    if (level >= WARN_LEVEL && this.problems.length < 20) this.problems.push(text.slice(0, 400));
    const msg = typeof line.msg === 'string' ? line.msg : '';
    // pino's `time` is epoch ms; map it onto this process's performance clock.
    const at = typeof line.time === 'number' ? line.time - performance.timeOrigin : performance.now();
    if (msg && !this.milestones.has(msg)) this.milestones.set(msg, { at, line, rss: memory(this.pid)?.rss });
    return line;
  }

  private tail(): string {
    return this.stderrTail.length ? `; stderr:\n  ${this.stderrTail.join('\n  ')}` : '';
  }
}
