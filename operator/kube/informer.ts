/**
 * A resilient informer: LIST + WATCH one collection into a local cache keyed by `namespace/name`, and tell a
 * handler which KEYS changed (never hand out events as truth: the reconciler reads the current object).
 *
 * Survives every watch failure (client-go reflector semantics; cf. kubernetes-client/javascript cache.ts, which
 * relists on 410 but stops on other errors):
 * - 410 Gone (HTTP status or an ERROR event with code 410, e.g. after etcd compaction) → LIST from scratch, diff
 *   the old cache against the new list and emit a key for every object added, changed or DELETED meanwhile;
 * - any other error or end → restart the watch from the last resourceVersion seen (events and bookmarks), after
 *   a jittered exponential backoff (reset once a watch has been healthy); a clean close of a healthy watch
 *   restarts at once;
 * - LIST failures retry with the same backoff; pages of 500 (a page expiring mid-way restarts the LIST);
 * - every `resyncMs` every cached key is emitted again (`resync`), the backstop for anything missed anywhere.
 *
 * `hasSynced()` is true once the first LIST has been applied; `waitForSync()` resolves then. `stop()` ends it.
 * The handler must be cheap and must not throw (a throw is logged): typically `controller.enqueue(key)`.
 *
 * The cache is typed by its source (`Informer<AccessPolicy>`), so a reconciler reads its object as controller-runtime's
 * `client.Get(ctx, key, &obj)` does: `policies.get(key)` is an `AccessPolicy | undefined`. `list(namespace?)` and
 * `keys(namespace?)` read everything cached, or one namespace's objects.
 *
 * What is cached: `transform(obj)` of every listed and watched object (controller-runtime's cache `TransformFunc`;
 * kube/transforms.ts), so the cache keeps only what the controllers read and its type says so: an informer over
 * `ResourceSource<V1Pod>` with `transform: podForCache` is an `Informer<CachedPod>`. Without a transform the
 * object is cached whole but for `metadata.managedFields` (`forCache`, controller-runtime's `DefaultTransform`).
 */
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { errorFields } from "../errors.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/sleep.ts";
import { backoffDelay, cryptoUnit, type BackoffPolicy } from "../controller/backoff.ts";
import {
  applyWatchEvent,
  forCache,
  classifyWatchEnd,
  diffCaches,
  indexByKey,
  resourceVersionOf,
  type CacheChange,
  type KubeObject,
  type ObjectCache,
  type WatchEnd,
} from "./cache.ts";
import type { HasMetadata } from "./keys.ts";
import type { ResourceSource } from "./sources.ts";

export type InformerEventType = CacheChange["type"] | "resync";

export type KeyHandler = (key: string, type: InformerEventType) => void;

export const DEFAULT_WATCH_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 30_000, jitter: 0.5 };

/** Everything but the source and the transform. */
export interface InformerSettings {
  kc: KubeConfig;
  onKey: KeyHandler;
  log: Logger;
  /** Re-emit every key this often; 0 disables. */
  resyncMs: number;
  backoff?: BackoffPolicy;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** Server-side watch timeout range in seconds; below the client's 30 s idle timeout. Default [20, 28]. */
  watchTimeoutSeconds?: readonly [number, number];
  random?: () => number;
}

/**
 * `source` yields `S`, the cache keeps `T`. `transform` must be pure (never mutate its argument): it runs on every
 * object of every LIST and every watch event, before the object is cached or compared.
 */
export interface InformerOptions<T extends HasMetadata = KubeObject, S extends HasMetadata = T> extends InformerSettings {
  source: ResourceSource<S>;
  transform?: ((obj: S) => T) | undefined;
}

export interface InformerStats {
  lists: number;
  relistsAfterGone: number;
  watchesStarted: number;
  watchFailures: number;
}

/**
 * `S` (the source's type) appears only in the constructor: an `Informer<CachedPod, V1Pod>` is used as an
 * `Informer<CachedPod>` anywhere.
 */
export class Informer<T extends HasMetadata = KubeObject, S extends HasMetadata = T> {
  readonly #opts: InformerSettings;
  readonly #source: ResourceSource<HasMetadata>;
  readonly #toCache: (obj: HasMetadata) => T;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #backoff: BackoffPolicy;
  #cache: ObjectCache<T> = new Map();
  /** Bumped whenever the cached contents change (a watch event applied, a LIST that changed anything). */
  #contentVersion = 0;
  #resourceVersion = "";
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #stopped = false;
  #running: Promise<void> | undefined;
  #watchAbort: AbortController | undefined;
  /** Aborted by stop(): ends a backoff sleep at once. */
  readonly #stopping = new AbortController();
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  readonly #stats: InformerStats = { lists: 0, relistsAfterGone: 0, watchesStarted: 0, watchFailures: 0 };

  /** Without a transform the cache keeps the source's type (`forCache`); with one, what it returns. */
  constructor(options: InformerOptions<T, T> | (InformerOptions<T, S> & { transform: (obj: S) => T })) {
    this.#opts = options;
    this.#source = options.source;
    const transform = options.transform;
    // A transform takes what the source yields: `T` in the first form, `S` in the second.
    this.#toCache = transform === undefined ? (obj) => forCache(obj as T) : (obj) => transform(obj as S & T);
    this.#log = options.log.child({ informer: options.source.description });
    this.#random = options.random ?? cryptoUnit;
    this.#backoff = options.backoff ?? DEFAULT_WATCH_BACKOFF;
  }

  /** Start listing and watching in the background. Idempotent. */
  start(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#run().catch((err: unknown) => {
      this.#log.error(errorFields(err), "informer loop crashed");
    });
    if (this.#opts.resyncMs > 0) {
      this.#resyncTimer = setInterval(() => {
        this.resync();
      }, this.#opts.resyncMs);
    }
  }

  /** Stop watching; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resyncTimer !== undefined) clearInterval(this.#resyncTimer);
    this.#watchAbort?.abort();
    this.#stopping.abort();
    for (const w of this.#syncWaiters.splice(0)) w();
    await this.#running;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first LIST is applied (or the informer is stopped). */
  waitForSync(): Promise<void> {
    if (this.#synced || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** The cached object for `key` (as last listed or watched). */
  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Keys of every cached object, or of those in `namespace`. */
  keys(namespace?: string): string[] {
    const all = [...this.#cache.keys()];
    if (namespace === undefined) return all;
    const prefix = `${namespace}/`;
    return all.filter((key) => key.startsWith(prefix));
  }

  /** Every cached object, or those in `namespace`. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.#cache.values()];
    // One pass, one array: reconcilers call this per reconcile over thousands of cached objects.
    const prefix = `${namespace}/`;
    const out: T[] = [];
    for (const [key, obj] of this.#cache) if (key.startsWith(prefix)) out.push(obj);
    return out;
  }

  /**
   * A counter that changes whenever the cached contents do: anything computed from the cache at the same value is
   * still current (e.g. whether any pod matches a selector, across the resyncs of thousands of policies).
   */
  get contentVersion(): number {
    return this.#contentVersion;
  }

  /** The resourceVersion the next watch resumes from. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  stats(): Readonly<InformerStats> {
    return { ...this.#stats };
  }

  /** Emit every cached key now (the periodic resync calls this). */
  resync(): void {
    if (!this.#synced || this.#stopped) return;
    for (const key of this.#cache.keys()) this.#emit(key, "resync");
  }

  async #run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.#stopped) {
      if (needList) {
        try {
          await this.#relist();
          needList = false;
          failures = 0;
        } catch (err) {
          const delay = backoffDelay(this.#backoff, failures++, this.#random);
          this.#log.warn({ ...errorFields(err), retryInMs: delay }, "list failed; retrying");
          await this.#sleep(delay);
        }
        continue;
      }
      const end = await this.#watchOnce();
      if (this.#isStopped()) break;
      if (end.kind === "gone") {
        this.#log.info({ resourceVersion: this.#resourceVersion }, "watch expired (410 Gone); relisting");
        this.#stats.relistsAfterGone++;
        needList = true;
        continue;
      }
      if (end.healthy) failures = 0;
      if (end.healthy && end.clean) {
        this.#log.debug({ reason: end.reason }, "watch ended; resuming");
        continue;
      }
      this.#stats.watchFailures++;
      const delay = backoffDelay(this.#backoff, failures++, this.#random);
      this.#log.warn({ reason: end.reason, retryInMs: delay, resourceVersion: this.#resourceVersion }, "watch failed; resuming after backoff");
      await this.#sleep(delay);
    }
  }

  /** LIST everything (paginated), swap the cache, emit the difference. */
  async #relist(): Promise<void> {
    const limit = this.#opts.pageSize ?? 500;
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.#source.listPage(token, limit);
      if (this.#stopped) return;
      for (const item of page.items) items.push(this.#toCache(item));
      token = page.continueToken;
      resourceVersion = page.resourceVersion;
    } while (token !== undefined);
    const fresh = indexByKey(items);
    const changes = diffCaches(this.#cache, fresh);
    this.#cache = fresh;
    if (changes.length > 0) this.#contentVersion++;
    this.#resourceVersion = resourceVersion;
    this.#stats.lists++;
    this.#log.debug({ objects: fresh.size, changes: changes.length, resourceVersion }, "listed");
    for (const change of changes) this.#emit(change.key, change.type);
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #watchOnce(): Promise<WatchEnd> {
    const [lo, hi] = this.#opts.watchTimeoutSeconds ?? [20, 28];
    const timeoutSeconds = Math.round(lo + (hi - lo) * this.#random());
    const started = Date.now();
    let sawEvents = false;
    let errorEventCode: number | undefined;
    this.#stats.watchesStarted++;
    return new Promise<WatchEnd>((resolve) => {
      let settled = false;
      const finish = (error: unknown): void => {
        if (settled) return;
        settled = true;
        this.#watchAbort = undefined;
        resolve(classifyWatchEnd({ error, errorEventCode, sawEvents, durationMs: Date.now() - started, minHealthyMs: 5_000 }));
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.#stopped || settled || typeof obj !== "object" || obj === null) return;
        if (type === "ERROR") {
          const code = (obj as { code?: unknown }).code;
          errorEventCode = typeof code === "number" ? code : 500;
          this.#watchAbort?.abort();
          return;
        }
        sawEvents = true;
        const rv = resourceVersionOf(obj);
        if (rv !== undefined && rv !== "") this.#resourceVersion = rv;
        if (type === "BOOKMARK") return;
        // The watch boundary: an event's object is what the source's LIST yields (see sources.ts).
        const change = applyWatchEvent(this.#cache, type, this.#toCache(obj as HasMetadata));
        if (change !== undefined) {
          this.#contentVersion++;
          this.#emit(change.key, change.type);
        }
      };
      const query = { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      new Watch(this.#opts.kc).watch(this.#source.watchPath, query, onEvent, finish).then(
        (abort) => {
          if (settled) return;
          this.#watchAbort = abort;
          if (this.#stopped) abort.abort();
        },
        (err: unknown) => {
          finish(err);
        },
      );
    });
  }

  #isStopped(): boolean {
    return this.#stopped;
  }

  #emit(key: string, type: InformerEventType): void {
    try {
      this.#opts.onKey(key, type);
    } catch (err) {
      this.#log.error({ ...errorFields(err), key }, "informer handler threw");
    }
  }

  #sleep(ms: number): Promise<void> {
    return sleep(ms, this.#stopping.signal);
  }
}
