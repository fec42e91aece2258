/**
 * Refusal folding (pure): a client that repeats a refused request must not turn into one audit event per request.
 * `note(key, now)` says whether this refusal is reported now (the first of its key in the current window) or
 * folded; `flush(now)` ends windows older than `windowMs` and returns the keys with folded refusals and how many
 * (reported as one event with `count`). At most `maxKeys` keys are tracked; beyond, refusals are folded into
 * `overflow` (counted, not reported per key).
 */
export interface Folded<V> {
  value: V;
  count: number;
}

interface Window<V> {
  value: V;
  openedAt: number;
  folded: number;
}

export class RefusalFolder<V> {
  readonly #windows = new Map<string, Window<V>>();
  readonly #windowMs: number;
  readonly #maxKeys: number;
  overflow = 0;

  constructor(windowMs: number, maxKeys = 10_000) {
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  /** True: report this refusal now. False: it was folded into its key's window. */
  note(key: string, value: V, now: number): boolean {
    const w = this.#windows.get(key);
    if (w !== undefined && now - w.openedAt < this.#windowMs) {
      w.folded += 1;
      w.value = value;
      return false;
    }
    if (w === undefined && this.#windows.size >= this.#maxKeys) {
      this.overflow += 1;
      return false;
    }
    this.#windows.set(key, { value, openedAt: now, folded: 0 });
    return true;
  }

  /** Closes windows older than the window length; returns those that folded refusals. */
  flush(now: number): Folded<V>[] {
    const out: Folded<V>[] = [];
    for (const [key, w] of this.#windows) {
      if (now - w.openedAt < this.#windowMs) continue;
      this.#windows.delete(key);
      if (w.folded > 0) out.push({ value: w.value, count: w.folded });
    }
    return out;
  }
}
