import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueueOutcomes, WorkQueue, type QueueHandler, type QueueOutcome, type QueuePriority, type QueueResult } from '../../../src/reconcile/queue.js';

/** A handler whose runs the test finishes by hand, recording what ran when. */
function controlledHandler() {
  const runs: { key: string; at: number; finish: (result?: QueueResult) => void; fail: (error: Error) => void }[] = [];
  const handler: QueueHandler = (key) =>
    new Promise<QueueResult | void>((resolve, reject) => {
      runs.push({ key, at: Date.now(), finish: resolve, fail: reject });
    });
  return { handler, runs };
}

/** Lets the queue's promise continuations run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a key added many times before a worker takes it once', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 1 });
    queue.add('busy');
    queue.add('a');
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(1);
    runs[0]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['busy', 'a']);
    runs[1]?.finish();
    await settle();
    expect(runs).toHaveLength(2);
    expect(queue.length).toBe(0);
  });

  it('runs a key added while in flight once more afterwards, never concurrently', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 4 });
    queue.add('a');
    await settle();
    queue.add('a');
    queue.add('a');
    await settle();
    // Four workers are free, but the key is in flight: no second run yet.
    expect(runs).toHaveLength(1);
    expect(queue.inFlight).toBe(1);
    runs[0]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'a']);
    runs[1]?.finish();
    await settle();
    expect(runs).toHaveLength(2);
    expect(queue.inFlight).toBe(0);
  });

  it('never runs more than `concurrency` keys at once', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 2 });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'b']);
    expect(queue.length).toBe(2);
    runs[1]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect(queue.inFlight).toBe(2);
    runs[0]?.finish();
    runs[2]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('backs off exponentially per key on failure and resets after a success', async () => {
    const runsAt: number[] = [];
    let failuresLeft = 4;
    const queue = new WorkQueue({
      handler: () => {
        runsAt.push(Date.now());
        if (failuresLeft-- > 0) throw new Error('boom');
      },
      backoff: { baseMs: 50, capMs: 300 },
    });
    const start = Date.now();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(10_000);
    // Failures at +0, +50, +150, +350 (cap 300 reached on the 4th delay); success at +650.
    expect(runsAt.map((t) => t - start)).toEqual([0, 50, 150, 350, 650]);
    expect(queue.failureCount('a')).toBe(0);

    // After the success, the next failure starts from the base delay again.
    failuresLeft = 1;
    const again = Date.now();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runsAt.slice(5).map((t) => t - again)).toEqual([0, 50]);
  });

  it('keeps backoff separate per key', async () => {
    const runsAt: Record<string, number[]> = { bad: [], good: [] };
    const queue = new WorkQueue({
      handler: (key) => {
        runsAt[key]?.push(Date.now());
        if (key === 'bad') throw new Error('boom');
      },
      concurrency: 2,
      backoff: { baseMs: 100, capMs: 1_000 },
    });
    const start = Date.now();
    queue.add('bad');
    await vi.advanceTimersByTimeAsync(250);
    queue.add('good');
    await settle();
    expect(runsAt['bad']?.map((t) => t - start)).toEqual([0, 100]);
    expect(runsAt['good']?.map((t) => t - start)).toEqual([250]);
    expect(queue.failureCount('bad')).toBe(2);
    expect(queue.failureCount('good')).toBe(0);
    await queue.shutdown();
  });

  it('caps the backoff', async () => {
    const queue = new WorkQueue({
      handler: () => {
        throw new Error('boom');
      },
    });
    queue.add('a');
    // 50 ms doubling reaches the 5 min cap after 14 failures; run well past that.
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    const failures = queue.failureCount('a');
    expect(failures).toBeGreaterThan(14);
    const before = failures;
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(queue.failureCount('a')).toBe(before + 1);
    await queue.shutdown();
  });

  it('requeues after requeueAfterMs and keeps only the earliest addAfter per key', async () => {
    const runsAt: number[] = [];
    const queue = new WorkQueue({
      handler: () => {
        runsAt.push(Date.now());
      },
    });
    const start = Date.now();
    queue.addAfter('a', 5_000);
    queue.addAfter('a', 1_000); // earlier: replaces
    queue.addAfter('a', 3_000); // later: ignored
    expect(queue.delayedCount).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runsAt.map((t) => t - start)).toEqual([1_000]);
    expect(queue.delayedCount).toBe(0);
  });

  it('schedules the handler-requested requeue', async () => {
    const runsAt: number[] = [];
    const queue = new WorkQueue({
      handler: () => {
        runsAt.push(Date.now());
        return runsAt.length < 3 ? { requeueAfterMs: 2_000 } : {};
      },
    });
    const start = Date.now();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runsAt.map((t) => t - start)).toEqual([0, 2_000, 4_000]);
  });

  it('treats addAfter with 0 ms as add', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler });
    queue.addAfter('a', 0);
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a']);
  });

  it('reports every run to onProcessed with duration and outcome', async () => {
    const processed: [string, number, QueueOutcome][] = [];
    let call = 0;
    const queue = new WorkQueue({
      handler: async () => {
        call++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (call === 1) throw new Error('boom');
        if (call === 2) return { requeueAfterMs: 1_000 };
        return undefined;
      },
      backoff: { baseMs: 10 },
      onProcessed: (key, durationMs, outcome) => {
        processed.push([key, durationMs, outcome]);
        throw new Error('a broken hook must not break the queue');
      },
    });
    queue.add('a');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(processed).toEqual([
      ['a', 30, QueueOutcomes.error],
      ['a', 30, QueueOutcomes.requeue],
      ['a', 30, QueueOutcomes.success],
    ]);
  });

  it('shutdown drops pending work, ignores later adds and resolves when in-flight runs finish', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 2 });
    queue.add('a');
    queue.add('b');
    queue.add('c');
    queue.addAfter('d', 1_000);
    await settle();
    queue.add('a'); // re-add while in flight: dropped by shutdown too

    let drained = false;
    const shutdown = queue.shutdown().then(() => {
      drained = true;
    });
    queue.add('e');
    expect(queue.length).toBe(0);
    expect(queue.delayedCount).toBe(0);

    runs[0]?.finish({ requeueAfterMs: 10 });
    await settle();
    expect(drained).toBe(false);
    runs[1]?.fail(new Error('boom'));
    await settle(); // the queue yields to the event loop after each run
    await shutdown;
    expect(drained).toBe(true);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs.map((r) => r.key)).toEqual(['a', 'b']);
  });

  it('runs a watch-triggered key before every resync key queued ahead of it', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 1 });
    for (let i = 0; i < 1000; i++) queue.add(`resync-${i}`, 'low');
    await settle();
    queue.add('edited');
    expect(queue.length).toBe(1000);
    expect(queue.lowPriorityLength).toBe(999);
    runs[0]?.finish();
    await settle();
    // resync-0 was already in flight; the edit is next, not 999 keys later.
    expect(runs.map((r) => r.key)).toEqual(['resync-0', 'edited']);
    runs[1]?.finish();
    await settle();
    expect(runs[2]?.key).toBe('resync-1');
  });

  it('moves a low key added again as normal ahead, and runs it once', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 1 });
    queue.add('busy');
    queue.add('a', 'low');
    queue.add('b', 'low');
    queue.add('b');
    queue.add('b', 'low'); // a later low add does not demote it
    expect(queue.length).toBe(2);
    expect(queue.lowPriorityLength).toBe(1);
    for (let i = 0; i < 3; i++) {
      runs[i]?.finish();
      await settle();
    }
    expect(runs.map((r) => r.key)).toEqual(['busy', 'b', 'a']);
    expect(queue.length).toBe(0);
  });

  it('runs a key added while in flight again afterwards, at the highest priority it was added with', async () => {
    const { handler, runs } = controlledHandler();
    const queue = new WorkQueue({ handler, concurrency: 1 });
    queue.add('a', 'low');
    await settle();
    queue.add('x', 'low');
    queue.add('a', 'low');
    queue.add('a');
    runs[0]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'a']);
    runs[1]?.finish();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a', 'a', 'x']);
  });

  it('whatever the adds: each waiting key runs once, normal ones before low ones, each lane first come first served', async () => {
    vi.useRealTimers(); // the queue yields with setImmediate between runs: let real ones drive it
    const add = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), priority: fc.constantFrom<QueuePriority>('normal', 'low') });
    await fc.assert(
      fc.asyncProperty(fc.array(add, { maxLength: 30 }), async (adds) => {
        const ran: string[] = [];
        let release!: () => void;
        const blocked = new Promise<void>((resolve) => {
          release = resolve;
        });
        const queue = new WorkQueue({ handler: async (key) => (key === 'busy' ? blocked : void ran.push(key)), concurrency: 1 });
        queue.add('busy');
        for (const { key, priority } of adds) queue.add(key, priority);
        release();
        while (queue.length > 0 || queue.inFlight > 0) await new Promise((resolve) => setImmediate(resolve));
        // The model: a key's priority is the highest it was added with; its place in the lane is
        // its first add at that priority.
        const first = new Map<string, { priority: QueuePriority; at: number }>();
        adds.forEach(({ key, priority }, at) => {
          const seen = first.get(key);
          if (!seen || (seen.priority === 'low' && priority === 'normal')) first.set(key, { priority, at });
        });
        const lane = (p: QueuePriority) => [...first].filter(([, v]) => v.priority === p).sort((x, y) => x[1].at - y[1].at).map(([k]) => k);
        expect(ran).toEqual([...lane('normal'), ...lane('low')]);
        expect(queue.length).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('shutdown of an idle queue resolves at once', async () => {
    const queue = new WorkQueue({ handler: () => undefined });
    await expect(queue.shutdown()).resolves.toBeUndefined();
  });

  it('uses an injected clock', async () => {
    let now = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const queue = new WorkQueue({
      handler: () => {
        throw new Error('boom');
      },
      backoff: { baseMs: 100 },
      clock: {
        now: () => now,
        setTimeout: (fn, ms) => timers.push({ at: now + ms, fn }),
        clearTimeout: () => undefined,
      },
    });
    queue.add('a');
    await settle();
    expect(timers.map((t) => t.at)).toEqual([100]);
    now = 100;
    timers[0]?.fn();
    await settle();
    expect(timers.map((t) => t.at)).toEqual([100, 300]);
  });
});
