/**
 * Rate-limited logging of a recurring failure, e.g. a Redis connection's `error` events while it reconnects
 * every few hundred milliseconds.
 *
 * Contract: `report(reason, fields)` logs `fields` for the first occurrence of a reason at once;
 * repeats of the same reason within `intervalMs` of the last line are only counted; the first repeat after that
 * is logged with `repeated: n` (how many were not logged). A new reason is logged at once. `reset()` forgets
 * everything (e.g. once the connection is healthy) and returns how many occurrences went unlogged. At most
 * `maxReasons` reasons are remembered (then the memory starts over).
 */
import type { Logger } from "./log.ts";

export interface LogThrottleOptions {
  log: Logger;
  level?: "warn" | "error";
  message: string;
  /** Default 30 s. */
  intervalMs?: number;
  /** Default 32. */
  maxReasons?: number;
  now?: () => number;
}

export class LogThrottle {
  readonly #o: LogThrottleOptions;
  readonly #seen = new Map<string, { at: number; repeated: number }>();

  constructor(options: LogThrottleOptions) {
    this.#o = options;
  }

  /** Log (or count) one occurrence; true when a line was written. */
  report(reason: string, fields: Record<string, unknown> = {}): boolean {
    const now = (this.#o.now ?? Date.now)();
    const seen = this.#seen.get(reason);
    if (seen !== undefined && now - seen.at < (this.#o.intervalMs ?? 30_000)) {
      seen.repeated++;
      return false;
    }
    if (seen === undefined && this.#seen.size >= (this.#o.maxReasons ?? 32)) this.#seen.clear();
    const repeated = seen?.repeated ?? 0;
    this.#seen.set(reason, { at: now, repeated: 0 });
    this.#o.log[this.#o.level ?? "warn"]({ ...fields, ...(repeated > 0 ? { repeated } : {}) }, this.#o.message);
    return true;
  }

  reset(): number {
    let unlogged = 0;
    for (const seen of this.#seen.values()) unlogged += seen.repeated;
    this.#seen.clear();
    return unlogged;
  }
}
