import { Writable } from 'node:stream';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Informer, type ChangeType, type InformerOptions } from '../../src/kube/informer.js';
import { kubeConfig, uniqueName } from './context.js';
import { FaultProxy } from './faultproxy.js';

type Seen = { type: ChangeType; name: string; data?: Record<string, string> } | { type: 'LISTED'; count: number };

/** Records an informer's changes and lists in order, and waits for conditions on them without polling. */
class Recorder {
  readonly seen: Seen[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(informer: Informer<V1ConfigMap>) {
    informer.on('change', (cm, type) => this.push({ type, name: cm.metadata?.name ?? '', ...(cm.data && { data: cm.data }) }));
    informer.on('listed', (count) => this.push({ type: 'LISTED', count }));
  }

  /** Resolves once `check(seen)` holds; rejects with what was seen after `timeoutMs`. */
  until(check: (seen: Seen[]) => boolean, timeoutMs = 15_000): Promise<void> {
    return waitFor(check, () => this.seen, this.waiters, timeoutMs);
  }

  /** Events after the `n`th LISTED marker (1-based), without LISTED markers. */
  afterList(n: number): Seen[] {
    let lists = 0;
    const result: Seen[] = [];
    for (const event of this.seen) {
      if (event.type === 'LISTED') lists++;
      else if (lists >= n) result.push(event);
    }
    return result;
  }

  lists(): number {
    return this.seen.filter((event) => event.type === 'LISTED').length;
  }

  private push(event: Seen): void {
    this.seen.push(event);
    for (const wake of this.waiters) wake();
  }
}

/** A pino logger whose records the test can wait for (the informer's log lines are its observable milestones). */
class LogCapture {
  readonly records: { msg: string; [field: string]: unknown }[] = [];
  readonly log: Logger;
  private readonly waiters = new Set<() => void>();

  constructor() {
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line) this.records.push(JSON.parse(line) as { msg: string });
        }
        for (const wake of this.waiters) wake();
        done();
      },
    });
    this.log = pino({ level: 'debug' }, stream);
  }

  with(msg: string): { msg: string; [field: string]: unknown }[] {
    return this.records.filter((record) => record.msg === msg);
  }

  until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
    return waitFor(check, () => this.records.slice(-20), this.waiters, timeoutMs);
  }
}

function waitFor<T>(check: (state: T) => boolean, state: () => T, waiters: Set<() => void>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const wake = () => {
      if (!check(state())) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`condition not met within ${timeoutMs} ms; state: ${JSON.stringify(state())}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      waiters.delete(wake);
    };
    waiters.add(wake);
    wake();
  });
}

/** Short-bounded poll for state that has no event (e.g. the watch connection being up). */
async function pollUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const names = (seen: Seen[]) =>
  seen
    .filter((event): event is Exclude<Seen, { type: 'LISTED' }> => event.type !== 'LISTED')
    .map((event) => `${event.type} ${event.name}`)
    .sort();

describe('Informer against the API server', () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let namespace: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    kc = kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    namespace = uniqueName('informer');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  /** Each test labels its ConfigMaps with its own id and selects on it, so tests don't see each other's objects. */
  function fixture(options: Partial<InformerOptions> = {}, client: KubeConfig = kc) {
    const id = uniqueName('t');
    const capture = new LogCapture();
    const informer = new Informer<V1ConfigMap>(client, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      labelSelector: `test=${id}`,
      log: capture.log,
      ...options,
    });
    const recorder = new Recorder(informer);
    cleanups.push(() => informer.stop());
    const create = (name: string, data: Record<string, string> = {}) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { test: id } }, data } });
    const update = (name: string, data: Record<string, string>) =>
      core.patchNamespacedConfigMap({ name, namespace, body: [{ op: 'replace', path: '/data', value: data }] });
    const remove = (name: string) => core.deleteNamespacedConfigMap({ name, namespace });
    return { id, informer, recorder, capture, create, update, remove };
  }

  it('lists what exists, then announces ADDED, MODIFIED and DELETED from its watch', async () => {
    const { informer, recorder, create, update, remove } = fixture();
    await create('before', { v: '0' });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: uniqueName('unselected') } } });

    informer.start();
    await informer.synced;
    expect(informer.list().map((cm) => cm.metadata?.name)).toEqual(['before']);
    expect(informer.get('before', namespace)?.data).toEqual({ v: '0' });
    expect(recorder.seen).toEqual([{ type: 'ADDED', name: 'before', data: { v: '0' } }, { type: 'LISTED', count: 1 }]);

    await create('a', { v: '1' });
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'a'));
    await update('a', { v: '2' });
    await recorder.until((seen) => seen.some((e) => e.type === 'MODIFIED' && e.name === 'a' && e.data?.['v'] === '2'));
    expect(informer.get('a', namespace)?.data).toEqual({ v: '2' });
    await remove('a');
    await recorder.until((seen) => seen.some((e) => e.type === 'DELETED' && e.name === 'a'));
    expect(informer.get('a', namespace)).toBeUndefined();

    expect(recorder.afterList(1)).toEqual([
      { type: 'ADDED', name: 'a', data: { v: '1' } },
      { type: 'MODIFIED', name: 'a', data: { v: '2' } },
      { type: 'DELETED', name: 'a', data: { v: '2' } },
    ]);
    expect(recorder.lists()).toBe(1);
  });

  it('pages through a list larger than its page size', async () => {
    const { informer, create } = fixture({ pageSize: 2 });
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) await create(name);
    informer.start();
    await informer.synced;
    expect(informer.list().map((cm) => cm.metadata?.name).sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('transforms every object on ingest (list and watch) and finds a namespace\'s objects by index', async () => {
    const seenByTransform: string[] = [];
    const { informer, recorder, create, update, remove } = fixture({
      transform: (o) => {
        const cm = o as V1ConfigMap;
        seenByTransform.push(cm.metadata?.managedFields ? 'full' : 'slim');
        const { managedFields: _dropped, ...metadata } = cm.metadata!;
        return { metadata, data: { kept: cm.data?.['kept'] ?? '' } } as V1ConfigMap;
      },
    });
    informer.addIndex('kept', (cm) => cm.data?.['kept']);
    await create('listed', { kept: '1', dropped: 'x'.repeat(100) });
    informer.start();
    await informer.synced;
    expect(informer.get('listed', namespace)).toMatchObject({ data: { kept: '1' } });
    expect(informer.get('listed', namespace)?.metadata?.managedFields).toBeUndefined();
    await create('watched', { kept: '2', dropped: 'y' });
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'watched'));
    await update('watched', { kept: '3', dropped: 'z' });
    await recorder.until((seen) => seen.some((e) => e.type === 'MODIFIED' && e.name === 'watched'));
    // Listeners get what the cache holds.
    expect(recorder.afterList(1)).toEqual([
      { type: 'ADDED', name: 'watched', data: { kept: '2' } },
      { type: 'MODIFIED', name: 'watched', data: { kept: '3' } },
    ]);
    expect(seenByTransform.every((s) => s === 'full')).toBe(true);
    expect(informer.inNamespace(namespace).map((cm) => cm.metadata?.name).sort()).toEqual(['listed', 'watched']);
    expect(informer.inNamespace('elsewhere')).toEqual([]);
    // The index follows updates: the object left bucket 2 for bucket 3.
    expect(informer.byIndex('kept', '3').map((cm) => cm.metadata?.name)).toEqual(['watched']);
    expect(informer.byIndex('kept', '2')).toEqual([]);
    expect(informer.byIndex('kept', '1').map((cm) => cm.metadata?.name)).toEqual(['listed']);
    await remove('watched');
    await recorder.until((seen) => seen.some((e) => e.type === 'DELETED' && e.name === 'watched'));
    expect(informer.inNamespace(namespace).map((cm) => cm.metadata?.name)).toEqual(['listed']);
    expect(informer.byIndex('kept', '3')).toEqual([]);
  });

  it('resumes a watch the server ended (timeoutSeconds) from its resourceVersion, without re-listing', async () => {
    const { informer, recorder, capture, create } = fixture({ watchTimeoutSeconds: 1 });
    informer.start();
    await informer.synced;
    await capture.until(() => capture.with('informer watch ended, resuming').length >= 1);
    await create('after-resume');
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'after-resume'));
    expect(recorder.lists()).toBe(1);
    expect(capture.with('informer watch broken, re-listing')).toEqual([]);
  });

  it('re-lists after its watch breaks and announces exactly what changed while disconnected', async () => {
    // Backoff 2-4 s: the changes below land while the informer is disconnected.
    const { informer, recorder, capture, create, update, remove } = fixture({ backoff: { baseMs: 4_000, capMs: 4_000 } });
    await create('keep', { v: '1' });
    await create('change', { v: '1' });
    await create('gone', { v: '1' });
    informer.start();
    await informer.synced;
    await pollUntil(() => informer.isWatching);

    expect(informer.abortWatch()).toBe(true);
    await update('change', { v: '2' });
    await remove('gone');
    await create('new', { v: '1' });
    expect(recorder.lists()).toBe(1); // still disconnected: nothing seen yet

    await recorder.until(() => recorder.lists() === 2);
    // The re-list's changes come just before its LISTED marker; nothing else arrived meanwhile.
    const afterFirstList = recorder.seen.slice(recorder.seen.findIndex((e) => e.type === 'LISTED') + 1);
    expect(afterFirstList.at(-1)).toEqual({ type: 'LISTED', count: 3 });
    expect(names(afterFirstList)).toEqual(['ADDED new', 'DELETED gone', 'MODIFIED change']);
    expect(capture.with('informer watch broken, re-listing')).toMatchObject([{ kind: 'failed', message: 'watch aborted by caller' }]);
    expect(informer.list().map((cm) => `${cm.metadata?.name}=${cm.data?.['v']}`).sort()).toEqual(['change=2', 'keep=1', 'new=1']);

    // And it watches again afterwards.
    await remove('new');
    await recorder.until((seen) => seen.some((e) => e.type === 'DELETED' && e.name === 'new'));
  });

  it('re-lists after the network resets its connection', async () => {
    const { proxy, kc: proxied } = await FaultProxy.start(kc);
    cleanups.push(() => proxy.close());
    const { informer, recorder, capture, create } = fixture({ backoff: { baseMs: 200, capMs: 400 } }, proxied);
    informer.start();
    await informer.synced;
    await pollUntil(() => informer.isWatching);

    proxy.cut();
    await create('after-reset');
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'after-reset'));
    expect(recorder.lists()).toBe(2);
    expect(capture.with('informer watch broken, re-listing')).toMatchObject([{ kind: 'failed', cause: 'connection' }]);
  });

  it('drops a watch that went silent (half-open connection) via its watchdog, and recovers', async () => {
    const { proxy, kc: proxied } = await FaultProxy.start(kc);
    cleanups.push(() => proxy.close());
    // Server-side timeout 1-2 s, + 0.5 s margin: the watchdog fires 1.5-2.5 s into the silence.
    const { informer, recorder, capture, create } = fixture(
      { watchTimeoutSeconds: 1, watchdogMarginMs: 500, requestTimeoutMs: 1_000, backoff: { baseMs: 200, capMs: 400 } },
      proxied,
    );
    informer.start();
    await informer.synced;
    await pollUntil(() => informer.isWatching);

    proxy.blackhole();
    await create('while-silent');
    await capture.until(() => capture.with('informer watch broken, re-listing').length >= 1);
    expect(capture.with('informer watch broken, re-listing')[0]).toMatchObject({ kind: 'failed', message: 'watch silent past its timeout' });
    expect(recorder.afterList(1)).toEqual([]); // nothing got through the black hole

    proxy.heal();
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'while-silent'));
  });

  it('re-lists at once when its resourceVersion has expired (410 Gone)', async () => {
    const { informer, recorder, capture, create } = fixture({ watchTimeoutSeconds: 1 });
    informer.start();
    await informer.synced;
    await pollUntil(() => informer.isWatching);
    // Compaction can't be forced from a test; a resourceVersion of 1 is as expired as it gets. The
    // server ends this watch within 2 s and the informer resumes from "1".
    (informer as unknown as { lastResourceVersion: string }).lastResourceVersion = '1';

    await recorder.until((seen) => seen.filter((e) => e.type === 'LISTED').length === 2);
    expect(capture.with('informer watch broken, re-listing')).toMatchObject([{ kind: 'expired', delayMs: 0 }]);
    await create('after-expiry');
    await recorder.until((seen) => seen.some((e) => e.type === 'ADDED' && e.name === 'after-expiry'));
  });

  it('re-announces cached objects as MODIFIED every resync period', async () => {
    const { informer, recorder, create } = fixture({ resyncMs: 200 });
    await create('steady');
    informer.start();
    await informer.synced;
    await recorder.until((seen) => seen.filter((e) => e.type === 'MODIFIED' && e.name === 'steady').length >= 2, 5_000);
    expect(recorder.lists()).toBe(1);
  });

  it('stops promptly, closing its watch, and rejects `synced` when stopped before syncing', async () => {
    const { informer, recorder, create } = fixture();
    informer.start();
    await informer.synced;
    await pollUntil(() => informer.isWatching);
    const started = Date.now();
    await informer.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(informer.isWatching).toBe(false);
    await create('after-stop');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(recorder.afterList(1)).toEqual([]);

    const never = fixture().informer;
    never.start();
    await never.stop();
    await expect(never.synced).rejects.toThrow(/stopped before its first list/);
  });
});
