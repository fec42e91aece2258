/**
 * The controller work queue (client-go workqueue semantics), keyed by `namespace/name`.
 *
 * Contract:
 * - duplicate adds of a key that is waiting are collapsed into one item;
 * - at most one worker holds a key at a time: a key added while it is being processed is marked dirty and queued
 *   again only when `done(key)` is called, so a reconcile never runs concurrently with itself;
 * - `addAfter(key, ms)` adds later (the earliest pending time wins); `addRateLimited(key)` adds after the key's
 *   exponential backoff (base 5 ms, doubling, cap 5 min, jittered from node:crypto) and `forget(key)` resets it;
 * - two priorities (controller-runtime's priority queue, where resyncs are low priority): `add` queues a key
 *   normally, `addLow` behind every normally queued key (the informers' periodic resyncs and the re-enqueues after a
 *   bus rebuild), so a resync of thousands of keys never delays a new change; a normal `add` of a key waiting at low
 *   priority moves it ahead, an `addLow` of a key already waiting changes nothing;
 * - `get()` resolves with the next key, or `undefined` once the queue is shut down (and drained);
 * - `shutDown()` ignores further adds, cancels delayed adds and resolves when every handed-out key is `done`;
 *   with `{drain: true}` (default) keys already queued are still handed out first, with `{drain: false}` they are
 *   dropped (used when leadership is lost: nothing new may start).
 */
import { KeyedBackoff, cryptoUnit, type BackoffPolicy } from "./backoff.ts";

export const DEFAULT_QUEUE_BACKOFF: BackoffPolicy = { baseMs: 5, capMs: 5 * 60_000, jitter: 0.2 };

export interface WorkQueueOptions {
  backoff?: BackoffPolicy;
  /** Uniform [0,1) source for jitter; default node:crypto. */
  random?: () => number;
  /** Called with the number of keys ready and waiting for a worker, whenever it changes. */
  onDepth?: (depth: number) => void;
}

type Waiter = (key: string | undefined) => void;

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Low-priority keys in arrival order; an entry whose key is no longer in `#low` was promoted (skipped). */
  readonly #lowQueue: string[] = [];
  /** Keys waiting at low priority (queued, or to be queued after `done`). */
  readonly #low = new Set<string>();
  /** How many entries of `#lowQueue` are live (their key in `#low` and not processing). */
  #lowReady = 0;
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();
  readonly #waiters: Waiter[] = [];
  readonly #backoff: KeyedBackoff;
  readonly #onDepth: ((depth: number) => void) | undefined;
  #shuttingDown = false;
  #dropping = false;
  #drained: (() => void) | undefined;
  #drainedPromise: Promise<void> | undefined;

  constructor(options: WorkQueueOptions = {}) {
    this.#backoff = new KeyedBackoff(options.backoff ?? DEFAULT_QUEUE_BACKOFF, options.random ?? cryptoUnit);
    this.#onDepth = options.onDepth;
  }

  /** Queue `key` now (collapsed with a waiting duplicate; deferred if the key is being processed). */
  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) {
      if (this.#low.delete(key) && !this.#processing.has(key)) {
        this.#lowReady--;
        this.#push(key);
      }
      return;
    }
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Queue `key` behind every normally queued key (a resync); nothing changes if it is already waiting. */
  addLow(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#low.add(key);
    if (this.#processing.has(key)) return;
    this.#pushLow(key);
  }

  /** Queue `key` after `ms`; a shorter pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  /** Queue `key` after its next backoff delay (one more failure counted); returns the delay. */
  addRateLimited(key: string): number {
    const delay = this.#backoff.next(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Reset `key`'s failure count (after a success or a deliberate requeueAfter). */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  /** Failures counted for `key` since the last `forget`. */
  numRequeues(key: string): number {
    return this.#backoff.failures(key);
  }

  /** Keys ready and waiting for a worker (both priorities). */
  len(): number {
    return this.#queue.length + this.#lowReady;
  }

  /** Of `len()`, the keys waiting at low priority. */
  lowLen(): number {
    return this.#lowReady;
  }

  /** Keys waiting for a delayed add. */
  delayedLen(): number {
    return this.#delayed.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The next key to process (the caller must call `done(key)`), or undefined once shut down and empty. */
  get(): Promise<string | undefined> {
    const key = this.#take();
    if (key !== undefined || this.#shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Mark `key` processed; if it was added meanwhile it is queued again now. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      if (this.#low.has(key)) this.#pushLow(key);
      else this.#push(key);
    }
    this.#checkDrained();
  }

  shutDown(options: { drain?: boolean } = {}): Promise<void> {
    if (this.#drainedPromise === undefined) {
      this.#drainedPromise = new Promise((resolve) => (this.#drained = resolve));
    }
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    if (options.drain === false) {
      this.#dropping = true;
      this.#dirty.clear();
      this.#queue.length = 0;
      this.#low.clear();
      this.#lowQueue.length = 0;
      this.#lowReady = 0;
      this.#onDepth?.(0);
    }
    if (this.len() === 0) {
      for (const w of this.#waiters.splice(0)) w(undefined);
    }
    this.#checkDrained();
    return this.#drainedPromise;
  }

  #push(key: string): void {
    if (this.#dropping) {
      this.#dirty.delete(key);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#onDepth?.(this.len());
  }

  #pushLow(key: string): void {
    if (this.#dropping) {
      this.#dirty.delete(key);
      this.#low.delete(key);
      return;
    }
    if (this.#waiters.length > 0) {
      this.#low.delete(key);
      this.#push(key);
      return;
    }
    this.#lowQueue.push(key);
    this.#lowReady++;
    this.#onDepth?.(this.len());
  }

  #take(): string | undefined {
    let key = this.#queue.shift();
    while (key === undefined && this.#lowReady > 0) {
      const next = this.#lowQueue.shift();
      if (next === undefined) break;
      // Promoted (or already handed out) since it was queued: its entry is stale.
      if (!this.#low.has(next) || this.#processing.has(next)) continue;
      this.#low.delete(next);
      this.#lowReady--;
      key = next;
    }
    if (key === undefined) {
      this.#lowQueue.length = 0;
      return undefined;
    }
    this.#onDepth?.(this.len());
    this.#dirty.delete(key);
    this.#processing.add(key);
    return key;
  }

  #checkDrained(): void {
    if (!this.#shuttingDown) return;
    if (this.len() === 0) {
      for (const w of this.#waiters.splice(0)) w(undefined);
    }
    if (this.len() === 0 && this.#processing.size === 0) this.#drained?.();
  }
}
