import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector, type LeaderElectorOptions } from '../../src/kube/leader.js';
import { toMicroTime } from '../../src/kube/microtime.js';
import { kubeConfig, uniqueName } from './context.js';
import { FaultProxy } from './faultproxy.js';

/** Short durations keep the tests quick; the orderings match client-go's defaults (15/10/2 s). */
const LEASE_MS = 2_000;
const RENEW_DEADLINE_MS = 1_500;
const RETRY_MS = 300;
/** Acquire attempts are jittered by up to 20%; plus a request and scheduling. */
const ATTEMPT_SLACK_MS = RETRY_MS * 1.2 + 400;

const log = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });

/** One candidate process: its elector plus a record of when it started and stopped leading. */
class Candidate {
  readonly elector: LeaderElector;
  readonly startedAt: number[] = [];
  readonly stoppedAt: number[] = [];
  signal: AbortSignal | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    kc: KubeConfig,
    readonly identity: string,
    lease: { namespace: string; name: string },
    options: Partial<LeaderElectorOptions> = {},
  ) {
    this.elector = new LeaderElector(kc, {
      ...lease,
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      log,
      onStartedLeading: (signal) => {
        this.signal = signal;
        this.record(this.startedAt);
      },
      onStoppedLeading: () => this.record(this.stoppedAt),
      onNewLeader: () => this.wake(),
      ...options,
    });
  }

  /** Resolves once `check()` holds (re-checked on every callback of this candidate); rejects after `timeoutMs`. */
  until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (!check()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.identity}: condition not met within ${timeoutMs} ms (started ${this.startedAt.length}, stopped ${this.stoppedAt.length}, leader ${this.elector.leader})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
      wake();
    });
  }

  private record(times: number[]): void {
    times.push(Date.now());
    this.wake();
  }

  private wake(): void {
    for (const wake of this.waiters) wake();
  }
}

describe('LeaderElector against the API server', () => {
  let kc: KubeConfig;
  let leases: CoordinationV1Api;
  let core: CoreV1Api;
  let namespace: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    kc = kubeConfig();
    leases = kc.makeApiClient(CoordinationV1Api);
    core = kc.makeApiClient(CoreV1Api);
    namespace = uniqueName('leader');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  function candidates(count: number, client: (i: number) => KubeConfig = () => kc) {
    const lease = { namespace, name: uniqueName('lease') };
    const all = Array.from({ length: count }, (_, i) => new Candidate(client(i), `${lease.name}-c${i}`, lease));
    for (const c of all) cleanups.push(() => c.elector.stop({ release: false }));
    return { lease, all };
  }

  const readLease = (lease: { namespace: string; name: string }): Promise<V1Lease> => leases.readNamespacedLease(lease);

  /** Starts `first`, waits until it leads, then starts the others and waits until they have seen it. */
  async function leaderWithFollowers(first: Candidate, ...followers: Candidate[]): Promise<void> {
    first.elector.start();
    await first.until(() => first.elector.isLeader);
    for (const f of followers) f.elector.start();
    await Promise.all(followers.map((f) => f.until(() => f.elector.leader === first.identity)));
  }

  it('lets exactly one of two candidates lead, creating the Lease and renewing it', async () => {
    const { lease, all } = candidates(2);
    const [a, b] = all as [Candidate, Candidate];
    a.elector.start();
    b.elector.start();
    await Promise.race([a.until(() => a.elector.isLeader), b.until(() => b.elector.isLeader)]);
    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    await follower.until(() => follower.elector.leader === leader.identity);

    // Watch two renewals go by: the follower must stay a follower throughout.
    const first = (await readLease(lease)).spec?.renewTime as unknown as string;
    let renewals = 0;
    let last = first;
    const deadline = Date.now() + 5 * RETRY_MS + 2_000;
    while (renewals < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS / 3));
      const now = (await readLease(lease)).spec?.renewTime as unknown as string;
      if (now !== last) renewals++;
      last = now;
    }
    expect(renewals).toBe(2);
    expect(leader.elector.isLeader).toBe(true);
    expect(follower.startedAt).toEqual([]);

    const stored = await readLease(lease);
    expect(stored.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 2, leaseTransitions: 0 });
    // On the wire, and back from client-node, MicroTime is a string with six fractional digits.
    expect(stored.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(stored.spec?.acquireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('hands over within the lease duration when the leader stops without releasing', async () => {
    const { lease, all } = candidates(2);
    const [a, b] = all as [Candidate, Candidate];
    await leaderWithFollowers(a, b);

    const stoppedAt = Date.now();
    await a.elector.stop({ release: false });
    expect(a.signal?.aborted).toBe(true);
    expect(a.stoppedAt).toHaveLength(1);

    await b.until(() => b.elector.isLeader, LEASE_MS + 5_000);
    const handover = (b.startedAt[0] ?? 0) - stoppedAt;
    // The Lease stayed valid for up to one lease duration after a's last renewal (at most a retry period before the stop).
    expect(handover).toBeGreaterThan(LEASE_MS - RETRY_MS - 200);
    expect(handover).toBeLessThan(LEASE_MS + ATTEMPT_SLACK_MS);
    expect((await readLease(lease)).spec).toMatchObject({ holderIdentity: b.identity, leaseTransitions: 1 });
  });

  it('hands over at once when the leader releases the Lease', async () => {
    const { lease, all } = candidates(2);
    const [a, b] = all as [Candidate, Candidate];
    await leaderWithFollowers(a, b);

    const releasedAt = Date.now();
    await a.elector.release();
    expect(a.signal?.aborted).toBe(true);
    await b.until(() => b.elector.isLeader, 5_000);
    const startedAt = b.startedAt[0] ?? 0;
    expect(startedAt - releasedAt).toBeLessThan(ATTEMPT_SLACK_MS);
    // a stopped its work before it freed the Lease, so the two never led at the same time.
    expect(a.stoppedAt[0]).toBeLessThanOrEqual(startedAt);
    expect((await readLease(lease)).spec).toMatchObject({ holderIdentity: b.identity, leaseTransitions: 1 });
  });

  it('steps down by the renew deadline when it cannot reach the API server, before a successor takes over', async () => {
    const { proxy, kc: proxied } = await FaultProxy.start(kc);
    cleanups.push(() => proxy.close());
    const { all } = candidates(2, (i) => (i === 0 ? proxied : kc));
    const [a, b] = all as [Candidate, Candidate];
    await leaderWithFollowers(a, b);

    const partitionedAt = Date.now();
    proxy.blackhole();
    await a.until(() => a.stoppedAt.length === 1, RENEW_DEADLINE_MS + 2_000);
    await b.until(() => b.elector.isLeader, LEASE_MS + 5_000);
    const stepDown = (a.stoppedAt[0] ?? 0) - partitionedAt;
    const takeover = (b.startedAt[0] ?? 0) - partitionedAt;
    expect(a.signal?.aborted).toBe(true);
    expect(stepDown).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 200);
    expect(takeover).toBeGreaterThan(stepDown);
    expect(takeover).toBeLessThan(LEASE_MS + ATTEMPT_SLACK_MS);

    // Back on the network, a campaigns again, sees b holding the Lease and stays a follower.
    proxy.heal();
    await a.until(() => a.elector.leader === b.identity, 5_000);
    expect(a.elector.isLeader).toBe(false);
    expect(a.startedAt).toHaveLength(1);
  });

  it('steps down at once when another holder has taken the Lease', async () => {
    const { lease, all } = candidates(1);
    const [a] = all as [Candidate];
    a.elector.start();
    await a.until(() => a.elector.isLeader);

    // Someone else writes the Lease (conditional update, retried on conflict with a's renewals).
    for (;;) {
      const current = await readLease(lease);
      const now = toMicroTime(new Date());
      const body = { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: now, acquireTime: now, leaseDurationSeconds: 30 } };
      try {
        await leases.replaceNamespacedLease({ ...lease, body });
        break;
      } catch (error) {
        if ((error as { code?: number }).code !== 409) throw error;
      }
    }
    const takenAt = Date.now();
    await a.until(() => a.stoppedAt.length === 1, 5_000);
    expect((a.stoppedAt[0] ?? 0) - takenAt).toBeLessThan(RETRY_MS + 500);
    expect(a.elector.leader).toBe('intruder');
    expect(a.signal?.aborted).toBe(true);
  });

  it('does not take over a renewed Lease whatever its own wall clock says (clock skew, defect 5)', async () => {
    const lease = { namespace, name: uniqueName('lease') };
    const honest = new Candidate(kc, `${lease.name}-honest`, lease);
    // An hour ahead: by wall clocks every renewTime the leader writes is long expired.
    const skewed = new Candidate(kc, `${lease.name}-skewed`, lease, { now: () => Date.now() + 3_600_000 });
    cleanups.push(() => honest.elector.stop({ release: false }), () => skewed.elector.stop({ release: false }));
    await leaderWithFollowers(honest, skewed);
    // Several lease durations of renewals go by: the skewed candidate must never lead meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
    expect(skewed.startedAt).toEqual([]);
    expect(honest.elector.isLeader).toBe(true);
    // Once the leader stops renewing, the skewed one takes over after a lease duration of its own time.
    const stoppedAt = Date.now();
    await honest.elector.stop({ release: false });
    await skewed.until(() => skewed.elector.isLeader, LEASE_MS + 5_000);
    expect((skewed.startedAt[0] ?? 0) - stoppedAt).toBeGreaterThan(LEASE_MS - RETRY_MS - 200);
  });
});
