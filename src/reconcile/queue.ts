/**
 * A work queue of string keys with controller-runtime's semantics: watch handlers add keys, a
 * fixed number of workers reconcile them, and the queue guarantees that a key is never handled by
 * two workers at once, that a key added any number of times before a worker picks it up is
 * handled once, and that a key added while it is being handled is handled once more afterwards
 * (so the change that caused the add is never missed).
 *
 * Keys come in two priorities. A watch event's key (and every requeue) is `normal`; the periodic
 * resync's are `low`, and a worker takes a low key only when no normal one is waiting: a resync
 * queues every customer at once (10,000 at the scale of issue #13), and an edit must not wait
 * behind them. A low key that is then added as normal moves ahead, keeping its single run.
 */
import type { Logger } from 'pino';

/** How soon a key wants a worker: `low` ones wait until no `normal` one is queued. */
export type QueuePriority = 'normal' | 'low';

/** What a handler asks for after a successful run. */
export interface QueueResult {
  /** Handle the key again after this many milliseconds (e.g. at the next time-based transition). */
  requeueAfterMs?: number;
}

/** Reconciles one key. Throwing (or rejecting) retries the key with per-key exponential backoff. */
export type QueueHandler = (key: string) => Promise<QueueResult | void> | QueueResult | void;

/** How a run ended, for metrics. */
export type QueueOutcome = 'success' | 'requeue' | 'error';

/** Outcome constants, so callers and tests don't spell the strings. */
export const QueueOutcomes = {
  success: 'success',
  requeue: 'requeue',
  error: 'error',
} as const satisfies Record<QueueOutcome, QueueOutcome>;

/** The timer functions the queue uses; injectable so tests can drive time deterministically. */
export interface QueueClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  handler: QueueHandler;
  /** How many keys are handled at once (each key still at most once). Default 1. */
  concurrency?: number;
  /** Per-key backoff after failures: `min(capMs, baseMs * 2^(failures-1))`. Default 50 ms .. 5 min. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Default: the global timers, looked up at call time (so vitest fake timers apply too). */
  clock?: QueueClock;
  /** Called after every run with its wall time; for Prometheus histograms/counters. Must not throw (it is guarded anyway). */
  onProcessed?: (key: string, durationMs: number, outcome: QueueOutcome) => void;
  log?: Logger;
}

const DEFAULT_BASE_MS = 50;
const DEFAULT_CAP_MS = 5 * 60_000;

const globalClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Delayed {
  at: number;
  handle: unknown;
}

/** See the module comment. Keys are opaque strings, conventionally `namespace/name`. */
export class WorkQueue {
  private readonly handler: QueueHandler;
  private readonly concurrency: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly clock: QueueClock;
  private readonly onProcessed: WorkQueueOptions['onProcessed'];
  private readonly log: Logger | undefined;

  /** Ready keys by priority, each lane in FIFO order (a Set keeps insertion order); each key also in `dirty`. */
  private readonly ready: Record<QueuePriority, Set<string>> = { normal: new Set(), low: new Set() };
  /** Keys that need a run, with their priority: queued in `ready`, or waiting for their in-flight run to finish. */
  private readonly dirty = new Map<string, QueuePriority>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private shuttingDown = false;
  private drained: (() => void) | undefined;

  constructor(options: WorkQueueOptions) {
    this.handler = options.handler;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.baseMs = options.backoff?.baseMs ?? DEFAULT_BASE_MS;
    this.capMs = options.backoff?.capMs ?? DEFAULT_CAP_MS;
    this.clock = options.clock ?? globalClock;
    this.onProcessed = options.onProcessed;
    this.log = options.log;
  }

  /** Keys waiting for a worker (not counting in-flight ones or delayed adds). */
  get length(): number {
    return this.ready.normal.size + this.ready.low.size;
  }

  /** Of {@link length}, the keys waiting at low priority. */
  get lowPriorityLength(): number {
    return this.ready.low.size;
  }

  /** Keys being handled right now. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** Keys with a pending {@link addAfter} timer. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Whether {@link shutdown} was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Queues a key; a no-op when it is already waiting at this priority or a higher one, or after
   * shutdown. A key waiting at low priority and added as normal moves to the normal lane.
   */
  add(key: string, priority: QueuePriority = 'normal'): void {
    if (this.shuttingDown) return;
    const waiting = this.dirty.get(key);
    if (waiting === 'normal' || waiting === priority) return;
    this.dirty.set(key, priority);
    // An in-flight key is queued again when its run finishes, never handed to a second worker.
    if (this.processing.has(key)) return;
    if (waiting === 'low') this.ready.low.delete(key);
    this.ready[priority].add(key);
    this.pump();
  }

  /**
   * Queues a key after `ms`. Only the earliest pending timer per key is kept: a later request is
   * covered by the earlier run (which can ask for its own requeue), an earlier one replaces it.
   * An immediate {@link add} does not cancel the timer.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Forgets a key's failure count, so its next failure starts the backoff from the base again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many consecutive failures a key has had (0 after a success). */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Stops taking work: pending keys and timers are dropped, later adds are ignored. Resolves once
   * the in-flight runs have finished (drain); their requeues are dropped as well.
   */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const lane of Object.values(this.ready)) {
      for (const key of lane) this.dirty.delete(key);
      lane.clear();
    }
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  private pump(): void {
    while (!this.shuttingDown && this.processing.size < this.concurrency && this.length > 0) {
      const lane = this.ready.normal.size > 0 ? this.ready.normal : this.ready.low;
      const key = lane.values().next().value as string;
      lane.delete(key);
      this.dirty.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    const started = this.clock.now();
    let outcome: QueueOutcome;
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      const requeueAfterMs = result?.requeueAfterMs;
      if (requeueAfterMs !== undefined && requeueAfterMs >= 0) {
        outcome = QueueOutcomes.requeue;
        this.addAfter(key, requeueAfterMs);
      } else {
        outcome = QueueOutcomes.success;
      }
    } catch (error) {
      outcome = QueueOutcomes.error;
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delayMs = this.backoffMs(failures);
      this.log?.warn({ key, failures, delayMs, err: error }, 'reconcile failed, retrying with backoff');
      this.addAfter(key, delayMs);
    }
    // Yield to the event loop before the next key: a run of reconciles that need no I/O (a
    // no-op resync) would otherwise chain through microtasks and starve probes, metrics and
    // lease renewal.
    const durationMs = this.clock.now() - started;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.finish(key, durationMs, outcome);
  }

  private finish(key: string, durationMs: number, outcome: QueueOutcome): void {
    this.processing.delete(key);
    try {
      this.onProcessed?.(key, durationMs, outcome);
    } catch (error) {
      this.log?.error({ key, err: error }, 'work queue onProcessed hook threw');
    }
    if (this.shuttingDown) {
      this.dirty.delete(key);
      if (this.processing.size === 0) this.drained?.();
      return;
    }
    const again = this.dirty.get(key);
    if (again !== undefined) this.ready[again].add(key);
    this.pump();
  }

  private backoffMs(failures: number): number {
    // 2^(failures-1) overflows to Infinity long after the cap is reached; min() handles that.
    return Math.min(this.capMs, this.baseMs * 2 ** (failures - 1));
  }
}
