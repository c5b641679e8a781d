/**
 * A resilient reflector + cache: LIST (paginated) then WATCH from the list's resourceVersion,
 * keeping every object of one collection in memory by namespace/name and telling listeners what
 * changed.
 *
 * Ours rather than client-node 1.4's informer, which stops on any watch error but 410 and has no
 * watch timeout. Here: every watch carries a randomized server-side `timeoutSeconds` so
 * connections are recycled; a client-side watchdog drops a watch that has been silent past that
 * timeout (a half-open connection otherwise hangs forever); 410 Gone, ERROR events and connection
 * failures lead to a re-list with capped, jittered exponential backoff, and the re-list is diffed
 * against the cache so listeners get ADDED/MODIFIED/DELETED for whatever changed while
 * disconnected. A watch the server ends cleanly (its timeout) is simply resumed from the last
 * resourceVersion without a re-list.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** What happened to an object. A periodic resync re-announces cached objects as MODIFIED. */
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** What the informer needs of a KubeConfig: where the API server is, and credentials per request. */
export type ApiServerAccess = Pick<KubeConfig, 'getCurrentCluster' | 'applyToHTTPSOptions'>;

/** Called for every change; exceptions are caught and logged, never propagated. */
/** `old` is the cached object a MODIFIED replaced, when the watch delivered it (not after a re-list). */
export type ChangeListener<T> = (obj: T, type: ChangeType, old?: T) => void;

/** Called after every complete LIST (the first one and each re-list) with the number of objects. */
export type ListedListener = (objects: number) => void;

/** Options of {@link Informer}. */
export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/namespaces/ns/configmaps` or `/apis/licensegate.dev/v1alpha1/licenses`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-announce every cached object as MODIFIED this often (controller-runtime's SyncPeriod). Default off. */
  resyncMs?: number;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** Server-side watch timeout; each watch uses a random value in [t, 2t) so clients don't reconnect in step. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** How long past its timeout a silent watch is trusted before the watchdog drops it. Default 30 s. */
  watchdogMarginMs?: number;
  /** Timeout of each LIST page request. Default 60 s. */
  requestTimeoutMs?: number;
  /** Backoff between failed attempts: `[d/2, d)` with `d = min(capMs, baseMs * 2^n)`; `n` resets after `resetAfterMs` without failure. Defaults 800 ms, 30 s, 120 s (client-go's). */
  backoff?: { baseMs?: number; capMs?: number; resetAfterMs?: number };
  /**
   * Applied to every object as it arrives (list items and watch events), before it is cached or
   * announced, like controller-runtime's cache transforms: drop what no reader needs so the
   * cache holds less. It must keep `metadata.name`, `namespace` and `resourceVersion`.
   */
  transform?: (obj: ObjectLike) => ObjectLike;
  log: Logger;
}

/**
 * The fields the informer reads. Any Kubernetes object fits: client-node models and our
 * zod-inferred types alike (whose timestamps are strings, as on the wire).
 */
export interface ObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: ObjectLike): string {
  const namespace = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return namespace ? `${namespace}/${name}` : name;
}

/** One change found by {@link diffSnapshot}. */
export interface SnapshotChange<T> {
  type: ChangeType;
  obj: T;
}

/**
 * What turns `cached` into `fresh`: ADDED for new keys, MODIFIED where the resourceVersion moved,
 * DELETED (with the last known state) for keys that are gone. Unchanged objects yield nothing.
 */
export function diffSnapshot<T extends ObjectLike>(cached: ReadonlyMap<string, T>, fresh: readonly T[]): SnapshotChange<T>[] {
  const changes: SnapshotChange<T>[] = [];
  const seen = new Set<string>();
  for (const obj of fresh) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cached.get(key);
    if (!old) changes.push({ type: 'ADDED', obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) changes.push({ type: 'MODIFIED', obj });
  }
  for (const [key, obj] of cached) {
    if (!seen.has(key)) changes.push({ type: 'DELETED', obj });
  }
  return changes;
}

/** A non-2xx answer of the API server. */
export class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

/** How one watch connection ended; only `closed` (the server's timeout) resumes without re-listing. */
type WatchEnd =
  | { kind: 'closed'; events: number }
  | { kind: 'expired' }
  | { kind: 'failed'; cause: string; code?: number; message?: string }
  | { kind: 'stopped' };

interface WatchEvent {
  type?: string;
  object?: ObjectLike & { code?: number; reason?: string; message?: string };
}

const DEFAULTS = {
  pageSize: 500,
  watchTimeoutSeconds: 300,
  watchdogMarginMs: 30_000,
  requestTimeoutMs: 60_000,
  backoffBaseMs: 800,
  backoffCapMs: 30_000,
  backoffResetAfterMs: 120_000,
};
/** A clean close sooner than this after connecting counts as a failure, so a server that keeps hanging up is not hammered. */
const MIN_HEALTHY_WATCH_MS = 1_000;

/**
 * See the module comment. Cached objects are the API server's JSON as received (timestamps are
 * strings, whatever the TS model says); treat them as read-only.
 */
export class Informer<T extends ObjectLike> {
  /** Resolves after the first complete LIST; rejects only if the informer is stopped before that. */
  readonly synced: Promise<void>;

  private readonly options: Required<Omit<InformerOptions, 'labelSelector' | 'fieldSelector' | 'backoff' | 'resyncMs' | 'transform'>> &
    Pick<InformerOptions, 'labelSelector' | 'fieldSelector' | 'resyncMs'>;
  private readonly transform: (obj: ObjectLike) => ObjectLike;
  private readonly backoff: { baseMs: number; capMs: number; resetAfterMs: number };
  private readonly log: Logger;
  private readonly cache = new Map<string, T>();
  /** The same objects by namespace, so a namespace's objects are found without scanning the cluster's. */
  private readonly byNamespace = new Map<string, Map<string, T>>();
  /** Secondary indexes (see {@link addIndex}): name → bucket key → objects by cache key. */
  private readonly indexes = new Map<string, { keyOf: (obj: T) => string | undefined; buckets: Map<string, Map<string, T>> }>();
  private readonly changeListeners = new Set<ChangeListener<T>>();
  private readonly listedListeners = new Set<ListedListener>();
  private resolveSynced!: () => void;
  private rejectSynced!: (error: Error) => void;
  private hasSynced = false;
  private lastResourceVersion: string | undefined;
  private failures = 0;
  private lastFailureAt = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Aborts whatever request or sleep is current. */
  private current: AbortController | undefined;
  /** The live watch connection, while there is one. */
  private watchController: AbortController | undefined;
  private watching = false;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly kc: ApiServerAccess,
    options: InformerOptions,
  ) {
    this.options = {
      path: options.path,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      resyncMs: options.resyncMs,
      pageSize: options.pageSize ?? DEFAULTS.pageSize,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds,
      watchdogMarginMs: options.watchdogMarginMs ?? DEFAULTS.watchdogMarginMs,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      log: options.log,
    };
    this.backoff = {
      baseMs: options.backoff?.baseMs ?? DEFAULTS.backoffBaseMs,
      capMs: options.backoff?.capMs ?? DEFAULTS.backoffCapMs,
      resetAfterMs: options.backoff?.resetAfterMs ?? DEFAULTS.backoffResetAfterMs,
    };
    this.transform = options.transform ?? ((obj) => obj);
    this.log = options.log.child({ informer: options.path });
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    // Nobody has to await `synced`; a stop before the first list must not become an unhandled rejection.
    this.synced.catch(() => undefined);
  }

  /** Subscribes to changes (`change`) or completed LISTs (`listed`). Returns `this`. */
  on(event: 'change', listener: ChangeListener<T>): this;
  on(event: 'listed', listener: ListedListener): this;
  on(event: 'change' | 'listed', listener: ChangeListener<T> | ListedListener): this {
    if (event === 'change') this.changeListeners.add(listener as ChangeListener<T>);
    else this.listedListeners.add(listener as ListedListener);
    return this;
  }

  /** Unsubscribes a listener added with {@link on}. */
  off(event: 'change' | 'listed', listener: ChangeListener<T> | ListedListener): this {
    if (event === 'change') this.changeListeners.delete(listener as ChangeListener<T>);
    else this.listedListeners.delete(listener as ListedListener);
    return this;
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** The cached objects of one namespace. */
  inNamespace(namespace: string): T[] {
    const objects = this.byNamespace.get(namespace);
    return objects ? [...objects.values()] : [];
  }

  /**
   * Adds an index: `keyOf` names the bucket an object belongs to (undefined: none), so
   * {@link byIndex} finds e.g. one customer's objects without scanning every object. Add indexes
   * before {@link start}.
   */
  addIndex(name: string, keyOf: (obj: T) => string | undefined): this {
    const buckets = new Map<string, Map<string, T>>();
    this.indexes.set(name, { keyOf, buckets });
    for (const [key, obj] of this.cache) addTo(buckets, keyOf(obj), key, obj);
    return this;
  }

  /** The cached objects whose index `name` key is `key`. */
  byIndex(name: string, key: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer for ${this.options.path} has no index ${name}`);
    const objects = index.buckets.get(key);
    return objects ? [...objects.values()] : [];
  }

  /** The cached object, if any; omit `namespace` for cluster-scoped objects. */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Whether the first LIST has completed. */
  get isSynced(): boolean {
    return this.hasSynced;
  }

  /** Whether a watch connection is established right now (false while listing or backing off). */
  get isWatching(): boolean {
    return this.watching;
  }

  /** The resourceVersion the next watch resumes from. */
  get resourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  /** Starts listing and watching in the background; idempotent. */
  start(): void {
    if (this.running || this.stopped) return;
    // run() handles its own failures; this only keeps a bug from becoming an unhandled rejection.
    this.running = this.run().catch((error: unknown) => this.log.error({ err: error }, 'informer stopped by an unexpected error'));
    if (this.options.resyncMs && this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
    }
  }

  /** Stops the informer and resolves once its connection is closed. The cache stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.current?.abort();
    if (!this.hasSynced) this.rejectSynced(new Error(`informer for ${this.options.path} stopped before its first list`));
    await this.running;
  }

  /**
   * Drops the current watch connection the way a network failure would: the informer re-lists
   * after its backoff and announces what changed meanwhile. For tests, and for callers with
   * reason to distrust the connection. Returns whether there was a watch to drop.
   */
  abortWatch(): boolean {
    if (!this.watchController) return false;
    this.watchController.abort(new Error('watch aborted by caller'));
    return true;
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      let delayMs = 0;
      if (needList) {
        const listed = await this.relist();
        if (listed !== true) {
          if (this.stopped) break;
          delayMs = this.nextBackoffMs(listed.kind === 'expired');
          this.log.warn({ ...listed, delayMs }, 'informer list failed, retrying');
          await this.sleep(delayMs);
          continue;
        }
        needList = false;
      }
      const started = Date.now();
      const end = await this.watchOnce();
      if (end.kind === 'stopped') break;
      if (end.kind === 'closed' && (end.events > 0 || Date.now() - started >= MIN_HEALTHY_WATCH_MS)) {
        this.log.debug({ resourceVersion: this.lastResourceVersion, events: end.events }, 'informer watch ended, resuming');
        continue;
      }
      needList = true;
      delayMs = this.nextBackoffMs(end.kind === 'expired');
      this.log.warn({ ...end, delayMs, resourceVersion: this.lastResourceVersion }, 'informer watch broken, re-listing');
      await this.sleep(delayMs);
    }
  }

  /** LIST every page, replace the cache and announce the difference. */
  private async relist(): Promise<true | Exclude<WatchEnd, { kind: 'closed' }>> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    try {
      do {
        const params: Record<string, string | undefined> = {
          limit: String(this.options.pageSize),
          continue: continueToken,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
        };
        const page = (await this.getJson(params)) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
        for (const item of page.items ?? []) items.push(this.transform(item) as T);
        // Every page of a paginated list is served at the first page's resourceVersion.
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken && !this.stopped);
    } catch (error) {
      if (this.stopped) return { kind: 'stopped' };
      // 410 here means the continue token expired (compaction during a long list): start over.
      if (error instanceof HttpStatusError) {
        return error.code === 410 ? { kind: 'expired' } : { kind: 'failed', cause: 'status', code: error.code, message: error.message };
      }
      return { kind: 'failed', cause: 'request', message: errorMessage(error) };
    }
    if (this.stopped) return { kind: 'stopped' };

    const changes = diffSnapshot(this.cache, items);
    this.cache.clear();
    this.byNamespace.clear();
    for (const index of this.indexes.values()) index.buckets.clear();
    for (const obj of items) this.put(obj);
    this.lastResourceVersion = resourceVersion;
    this.log.debug({ objects: items.length, changes: changes.length, resourceVersion }, 'informer listed');
    for (const { obj, type } of changes) this.emitChange(obj, type);
    for (const listener of this.listedListeners) {
      try {
        listener(items.length);
      } catch (error) {
        this.log.error({ err: error }, 'informer listed listener threw');
      }
    }
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.resolveSynced();
    }
    return true;
  }

  /** One watch connection from {@link lastResourceVersion} until it ends; never throws. */
  private async watchOnce(): Promise<WatchEnd> {
    const timeoutSeconds = Math.floor(this.options.watchTimeoutSeconds * (1 + Math.random()));
    const params: Record<string, string | undefined> = {
      watch: 'true',
      resourceVersion: this.lastResourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
    };
    const controller = new AbortController();
    this.current = controller;
    this.watchController = controller;
    if (this.stopped) return { kind: 'stopped' };
    const silenceLimitMs = timeoutSeconds * 1000 + this.options.watchdogMarginMs;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const feedWatchdog = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(new Error('watch silent past its timeout')), silenceLimitMs);
    };
    feedWatchdog();
    let events = 0;
    try {
      const response = await this.request(params, controller.signal);
      if (response.statusCode !== 200) {
        const error = await statusError(response);
        return error.code === 410 ? { kind: 'expired' } : { kind: 'failed', cause: 'status', code: error.code, message: error.message };
      }
      this.watching = true;
      this.log.debug({ resourceVersion: this.lastResourceVersion, timeoutSeconds }, 'informer watching');
      return await new Promise<WatchEnd>((resolve) => {
        let buffered = '';
        let settled = false;
        const settle = (end: WatchEnd) => {
          if (settled) return;
          settled = true;
          response.destroy();
          resolve(end);
        };
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          feedWatchdog();
          buffered += chunk;
          let newline: number;
          while (!settled && (newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line === '') continue;
            events++;
            const end = this.handleWatchLine(line);
            if (end) settle(end);
          }
        });
        response.on('end', () => settle({ kind: 'closed', events }));
        response.on('error', (error) =>
          settle(
            this.stopped
              ? { kind: 'stopped' }
              : { kind: 'failed', cause: 'connection', message: controller.signal.aborted ? abortMessage(controller.signal) : errorMessage(error) },
          ),
        );
        response.on('close', () => settle(this.stopped ? { kind: 'stopped' } : { kind: 'failed', cause: 'connection', message: abortMessage(controller.signal) }));
      });
    } catch (error) {
      if (this.stopped) return { kind: 'stopped' };
      return { kind: 'failed', cause: 'request', message: controller.signal.aborted ? abortMessage(controller.signal) : errorMessage(error) };
    } finally {
      clearTimeout(watchdog);
      this.watching = false;
      this.watchController = undefined;
    }
  }

  /** Applies one watch event to the cache; returns how the watch ends when the event ends it. */
  private handleWatchLine(line: string): WatchEnd | undefined {
    let event: WatchEvent;
    try {
      event = JSON.parse(line) as WatchEvent;
    } catch {
      // Never the line itself: it may be a Secret's body (and JSON.parse's message quotes it too).
      return { kind: 'failed', cause: 'decode', message: `unparseable watch event (${line.length} characters)` };
    }
    if (event.type === 'ERROR') {
      const obj = event.object;
      // The server reports an expired resourceVersion as an ERROR event carrying a Status with code 410.
      if (obj?.code === 410) return { kind: 'expired' };
      return { kind: 'failed', cause: 'error event', ...(obj?.code !== undefined && { code: obj.code }), message: obj?.message ?? '' };
    }
    if (!event.object) return undefined;
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (resourceVersion) this.lastResourceVersion = resourceVersion;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.transform(event.object) as T;
        const old = this.cache.get(objectKey(obj));
        const type: ChangeType = old ? 'MODIFIED' : 'ADDED';
        this.put(obj);
        this.emitChange(obj, type, old);
        return undefined;
      }
      case 'DELETED': {
        const obj = this.transform(event.object) as T;
        this.remove(obj);
        this.emitChange(obj, 'DELETED');
        return undefined;
      }
      case 'BOOKMARK':
        return undefined;
      default:
        this.log.warn({ type: event.type }, 'informer ignored unknown watch event type');
        return undefined;
    }
  }

  private put(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (old) this.unindex(key, old);
    this.cache.set(key, obj);
    addTo(this.byNamespace, obj.metadata?.namespace ?? '', key, obj);
    for (const { keyOf, buckets } of this.indexes.values()) addTo(buckets, keyOf(obj), key, obj);
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (!old) return;
    this.cache.delete(key);
    this.unindex(key, old);
  }

  private unindex(key: string, old: T): void {
    removeFrom(this.byNamespace, old.metadata?.namespace ?? '', key);
    for (const { keyOf, buckets } of this.indexes.values()) removeFrom(buckets, keyOf(old), key);
  }

  private resync(): void {
    if (!this.hasSynced || this.stopped) return;
    for (const obj of this.cache.values()) this.emitChange(obj, 'MODIFIED');
  }

  private emitChange(obj: T, type: ChangeType, old?: T): void {
    for (const listener of this.changeListeners) {
      try {
        listener(obj, type, old);
      } catch (error) {
        this.log.error({ err: error, key: objectKey(obj), type }, 'informer change listener threw');
      }
    }
  }

  /** Jittered exponential backoff; an expired resourceVersion is re-listed at once unless it keeps happening. */
  private nextBackoffMs(expired: boolean): number {
    const now = Date.now();
    if (now - this.lastFailureAt > this.backoff.resetAfterMs) this.failures = 0;
    this.lastFailureAt = now;
    const attempt = this.failures++;
    if (expired && attempt === 0) return 0;
    const ceiling = Math.min(this.backoff.capMs, this.backoff.baseMs * 2 ** attempt);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    const controller = new AbortController();
    this.current = controller;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      controller.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async getJson(params: Record<string, string | undefined>): Promise<unknown> {
    const controller = new AbortController();
    this.current = controller;
    const timer = setTimeout(() => controller.abort(new Error('list request timed out')), this.options.requestTimeoutMs);
    try {
      const response = await this.request(params, controller.signal);
      if (response.statusCode !== 200) throw await statusError(response);
      const body = await readBody(response);
      try {
        return JSON.parse(body);
      } catch {
        // Not the parser's message: it quotes the body, which may hold Secrets.
        throw new Error(`unparseable list response (${body.length} characters)`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** A GET of the collection with kc's credentials; resolves with the response head. */
  private async request(params: Record<string, string | undefined>, signal: AbortSignal): Promise<http.IncomingMessage> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + this.options.path);
    for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
    // applyToHTTPSOptions adds TLS material, the proxy agent and a fresh Authorization header (tokens rotate).
    const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(options);
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { ...options, signal }, resolve);
      request.on('error', reject);
      request.end();
    });
  }
}

function addTo<T>(buckets: Map<string, Map<string, T>>, bucket: string | undefined, key: string, obj: T): void {
  if (bucket === undefined) return;
  let objects = buckets.get(bucket);
  if (!objects) buckets.set(bucket, (objects = new Map()));
  objects.set(key, obj);
}

function removeFrom<T>(buckets: Map<string, Map<string, T>>, bucket: string | undefined, key: string): void {
  if (bucket === undefined) return;
  const objects = buckets.get(bucket);
  objects?.delete(key);
  if (objects?.size === 0) buckets.delete(bucket);
}

async function readBody(response: http.IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let body = '';
  for await (const chunk of response) body += chunk as string;
  return body;
}

async function statusError(response: http.IncomingMessage): Promise<HttpStatusError> {
  const code = response.statusCode ?? 0;
  let body = '';
  try {
    body = await readBody(response);
  } catch {
    // The status line is enough to act on.
  }
  let reason = '';
  // A body that is not a Status is never quoted: whatever answered may have echoed a Secret.
  let message = `${response.statusMessage ?? 'error'} (a ${body.length}-character body that is not a Kubernetes Status)`;
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
    if (typeof status.reason === 'string') reason = status.reason;
    if (typeof status.message === 'string') message = status.message;
  } catch {
    // Not a Status object (e.g. a proxy's HTML page): keep the raw text.
  }
  return new HttpStatusError(code, reason, message);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function abortMessage(signal: AbortSignal): string {
  return signal.aborted ? errorMessage(signal.reason) : 'connection closed';
}
