/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: a candidate
 * takes the Lease when it is free (no holder, e.g. released) or expired (`renewTime +
 * leaseDurationSeconds < now`), the leader renews it every retry period, and every write is a
 * conditional update on resourceVersion, so of two racing candidates exactly one wins (the other
 * gets 409 Conflict). A leader that cannot renew within the renew deadline steps down, which is
 * before anyone else may consider its Lease expired (renew deadline < lease duration).
 *
 * Expiry is judged as client-go judges it: not from the Lease's renewTime (another machine's
 * wall clock) but from the local monotonic time at which this candidate last saw the record
 * change. A Lease is expired once it has not changed for a whole lease duration as measured
 * here, so clock skew between machines can never make two leaders; the price is that a fresh
 * candidate waits one lease duration before taking over a Lease it has only just seen.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiError } from './errors.js';
import { toMicroTime } from './microtime.js';

/** Options of {@link LeaderElector}. Durations default to client-go's 15 s / 10 s / 2 s. */
export interface LeaderElectorOptions {
  /** Namespace and name of the Lease; it is created when missing. */
  namespace: string;
  name: string;
  /** Unique per process (e.g. the pod name); written to `holderIdentity`. */
  identity: string;
  /** How long a Lease stays valid after its last renewal. Written in whole seconds (rounded up). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down; less than leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Time between acquire attempts and between renewals; less than renewDeadlineMs. */
  retryPeriodMs?: number;
  /**
   * Called when this process becomes leader. `signal` aborts when leadership ends (lost, or
   * {@link LeaderElector.stop}); the work it started must stop then. Errors are logged.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called (and awaited) after `signal` aborted, before a release is written. Errors are logged. */
  onStoppedLeading?: () => void | Promise<void>;
  /** Called when the observed holder changes ('' when the Lease is free). */
  onNewLeader?: (identity: string) => void;
  /** Milliseconds since the epoch, for the timestamps written into the Lease; injectable for tests. */
  now?: () => number;
  /** A monotonic clock in milliseconds (default performance.now), for every duration and for expiry. */
  monotonic?: () => number;
  log: Logger;
}

/** Why an acquire/renew attempt did not succeed. */
export const AttemptReasons = {
  /** Someone else holds a valid Lease. */
  held: 'Held',
  /** A concurrent write won (409). */
  conflict: 'Conflict',
  /** The API server could not be asked (network, 5xx, timeout, RBAC). */
  error: 'Error',
} as const;

/** The outcome of one acquire-or-renew attempt. */
export type Attempt =
  | { ok: true }
  | { ok: false; reason: (typeof AttemptReasons)[keyof typeof AttemptReasons]; holder?: string; message?: string };

const DEFAULT_LEASE_DURATION_MS = 15_000;
const DEFAULT_RENEW_DEADLINE_MS = 10_000;
const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** client-go waits retryPeriod * (1 + up to 1.2) between acquire attempts; we jitter by up to 20%. */
const ACQUIRE_JITTER = 0.2;

class StoppedError extends Error {
  constructor() {
    super('leader elector stopped');
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`lease request timed out after ${ms} ms`);
  }
}

/** See the module comment. One instance per process and Lease; start once, stop once. */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private readonly log: Logger;
  /** The Lease record as last seen, and the monotonic time it was first seen so. */
  private observed: { record: string; at: number } | undefined;

  /** The Lease as last read or written by us (its resourceVersion makes the next write conditional). */
  private lease: V1Lease | undefined;
  private observedHolder: string | undefined;
  private leading: AbortController | undefined;
  private lastRenewAt = 0;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectorOptions,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace;
    this.name = options.name;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.now = options.now ?? Date.now;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.log = options.log.child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
    if (!options.identity) throw new Error('leader election needs a non-empty identity (e.g. the pod name)');
    // The safety argument needs these orderings; a misconfiguration is a programming error.
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs && this.retryPeriodMs > 0)) {
      throw new Error(
        `leader election needs leaseDurationMs (${this.leaseDurationMs}) > renewDeadlineMs (${this.renewDeadlineMs}) > retryPeriodMs (${this.retryPeriodMs}) > 0`,
      );
    }
  }

  /** Whether this process is leader right now. */
  get isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder this process last saw in the Lease ('' when free, undefined before the first read). */
  get leader(): string | undefined {
    return this.observedHolder;
  }

  /** Starts campaigning in the background. After losing leadership it campaigns again until stopped. */
  start(): void {
    if (this.running || this.stopping.signal.aborted) return;
    // run() handles its own failures; this only keeps a bug from becoming an unhandled rejection.
    this.running = this.run().catch((error: unknown) => this.log.error({ err: error }, 'leader election stopped by an unexpected error'));
  }

  /**
   * Stops campaigning/renewing; if leading, aborts the leadership signal and awaits
   * onStoppedLeading. With `release` (the default) it then frees the Lease so a successor takes
   * over at once instead of after the lease duration (client-go's ReleaseOnCancel).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopping.abort();
    await this.running;
    if (options.release ?? true) await this.releaseLease();
  }

  /** Same as `stop({ release: true })`. */
  release(): Promise<void> {
    return this.stop({ release: true });
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      if (!(await this.acquire())) break;
      this.becomeLeader();
      await this.renewWhileLeading();
      await this.stepDown();
    }
  }

  /** Tries every retry period until the Lease is ours; false when stopped first. */
  private async acquire(): Promise<boolean> {
    this.log.debug({}, 'leader election campaigning');
    while (!this.stopping.signal.aborted) {
      const startedAt = this.monotonic();
      const attempt = await this.tryAcquireOrRenew(this.leaseDurationMs);
      if (attempt.ok) {
        this.lastRenewAt = startedAt;
        return true;
      }
      if (attempt.reason === AttemptReasons.error) this.log.warn({ ...attempt }, 'leader election attempt failed');
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * ACQUIRE_JITTER));
    }
    return false;
  }

  /** Renews every retry period; returns when renewal failed past the deadline, the Lease was taken, or on stop. */
  private async renewWhileLeading(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await this.sleep(this.retryPeriodMs);
      for (;;) {
        if (this.stopping.signal.aborted) return;
        const startedAt = this.monotonic();
        const remainingMs = this.lastRenewAt + this.renewDeadlineMs - startedAt;
        if (remainingMs <= 0) {
          this.log.warn({ renewDeadlineMs: this.renewDeadlineMs }, 'leader election failed to renew within the renew deadline');
          return;
        }
        const attempt = await this.tryAcquireOrRenew(remainingMs);
        if (attempt.ok) {
          // Our renewTime is `startedAt`, so the Lease is safe to hold until startedAt + leaseDuration.
          this.lastRenewAt = startedAt;
          break;
        }
        if (attempt.reason === AttemptReasons.held) {
          this.log.warn({ holder: attempt.holder }, 'leader election lost the lease to another holder');
          return;
        }
        this.log.warn({ ...attempt }, 'leader election renewal failed');
        await this.sleep(Math.min(this.retryPeriodMs, Math.max(0, this.lastRenewAt + this.renewDeadlineMs - this.monotonic())));
      }
    }
  }

  private becomeLeader(): void {
    const leading = new AbortController();
    this.leading = leading;
    this.log.info({}, 'leader election became leader');
    // Not awaited: the callback may run the leader's work until `signal` aborts, and renewals must go on meanwhile.
    const report = (error: unknown) => this.log.error({ err: error }, 'onStartedLeading failed');
    try {
      Promise.resolve(this.options.onStartedLeading(leading.signal)).catch(report);
    } catch (error) {
      report(error);
    }
  }

  private async stepDown(): Promise<void> {
    const leading = this.leading;
    if (!leading) return;
    this.leading = undefined;
    leading.abort();
    this.log.info({}, 'leader election stopped leading');
    try {
      await this.options.onStoppedLeading?.();
    } catch (error) {
      this.log.error({ err: error }, 'onStoppedLeading failed');
    }
  }

  /**
   * One attempt: renew directly when we hold the Lease (fast path), otherwise read it and take it
   * if it is free, expired or already ours. Never throws.
   */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const now = new Date(this.now());
    if (this.leading && this.lease?.spec?.holderIdentity === this.identity) {
      const renewed = await this.write(this.lease, now, timeoutMs);
      if (renewed.ok) return renewed;
      if (renewed.reason !== AttemptReasons.conflict) return renewed;
      // Someone wrote the Lease since our last renewal: re-read it to see who holds it now.
    }

    let current: V1Lease;
    try {
      current = await this.call(this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }), timeoutMs);
    } catch (error) {
      if (apiError(error).code !== 404) return this.failed(error);
      return this.create(now, timeoutMs);
    }
    this.lease = current;
    this.noteRecord(current);
    const holder = current.spec?.holderIdentity ?? '';
    this.observe(holder);
    if (holder !== '' && holder !== this.identity && !leaseExpired(this.observed!.at, current.spec?.leaseDurationSeconds, this.monotonic())) {
      return { ok: false, reason: AttemptReasons.held, holder };
    }
    return this.write(current, now, timeoutMs);
  }

  /** Conditional update of `base` making us holder with renewTime `now`. */
  private async write(base: V1Lease, now: Date, timeoutMs: number): Promise<Attempt> {
    const spec = base.spec ?? {};
    const ours = spec.holderIdentity === this.identity;
    const body: V1Lease = {
      ...base,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        renewTime: toMicroTime(now),
        // Taking over (from a holder, or a released Lease) is a transition.
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : toMicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
    try {
      this.lease = await this.call(this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }), timeoutMs);
    } catch (error) {
      return this.failed(error);
    }
    this.noteRecord(this.lease);
    this.observe(this.identity);
    return { ok: true };
  }

  private async create(now: Date, timeoutMs: number): Promise<Attempt> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: toMicroTime(now),
        renewTime: toMicroTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      this.lease = await this.call(this.api.createNamespacedLease({ namespace: this.namespace, body }), timeoutMs);
    } catch (error) {
      return this.failed(error);
    }
    this.noteRecord(this.lease);
    this.observe(this.identity);
    return { ok: true };
  }

  /** Frees the Lease if we hold it: empty holder, 1 s duration, so any candidate may take it now. */
  private async releaseLease(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const lease = this.lease;
      if (lease?.spec?.holderIdentity !== this.identity) return;
      const now = toMicroTime(new Date(this.now()));
      const body: V1Lease = {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      };
      try {
        // Not raced against `stopping` (already aborted): release is the last thing stop() does.
        this.lease = await withTimeout(this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }), this.renewDeadlineMs);
        this.observe('');
        this.log.info({}, 'leader election released the lease');
        return;
      } catch (error) {
        const { code, message } = apiError(error);
        if (code !== 409) {
          this.log.warn({ code, message }, 'leader election failed to release the lease');
          return;
        }
        // A renewal that was in flight when we stopped may have moved the resourceVersion: re-read once.
        try {
          this.lease = await withTimeout(this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }), this.renewDeadlineMs);
        } catch {
          return;
        }
      }
    }
  }

  /** Starts the expiry clock afresh whenever the record differs from the one last seen. */
  private noteRecord(lease: V1Lease): void {
    const record = leaseRecord(lease.spec);
    if (this.observed?.record !== record) this.observed = { record, at: this.monotonic() };
  }

  private observe(holder: string): void {
    if (holder === this.observedHolder) return;
    this.observedHolder = holder;
    this.log.info({ holder }, 'leader election observed a new holder');
    try {
      this.options.onNewLeader?.(holder);
    } catch (error) {
      this.log.error({ err: error }, 'onNewLeader failed');
    }
  }

  private failed(error: unknown): Attempt {
    if (error instanceof StoppedError) return { ok: false, reason: AttemptReasons.error, message: error.message };
    const { code, message } = apiError(error);
    if (code === 409) return { ok: false, reason: AttemptReasons.conflict, message };
    return { ok: false, reason: AttemptReasons.error, message: code ? `${code}: ${message}` : message };
  }

  /** Bounds a request by `timeoutMs` and by stop(); a late answer is dropped (the next attempt re-reads). */
  private call<T>(request: Promise<T>, timeoutMs: number): Promise<T> {
    const signal = this.stopping.signal;
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(new StoppedError());
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([withTimeout(request, timeoutMs), stopped]).finally(() => {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    });
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** What identifies one state of a Lease: any renewal or takeover changes it. */
export function leaseRecord(spec: V1LeaseSpec | undefined): string {
  const text = (t: unknown) => (t instanceof Date ? t.toISOString() : String(t ?? ''));
  return JSON.stringify([spec?.holderIdentity ?? '', spec?.leaseDurationSeconds ?? 0, text(spec?.acquireTime), text(spec?.renewTime), spec?.leaseTransitions ?? 0]);
}

/**
 * Whether a Lease first seen in its current state at monotonic `observedAtMs` may be taken over
 * at monotonic `nowMs`: it has not changed for a whole lease duration (or has none).
 */
export function leaseExpired(observedAtMs: number, leaseDurationSeconds: number | undefined, nowMs: number): boolean {
  if (!leaseDurationSeconds) return true;
  return observedAtMs + leaseDurationSeconds * 1000 < nowMs;
}

function withTimeout<T>(request: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
  });
  request.catch(() => undefined); // a request that loses the race must not become an unhandled rejection
  return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
}
