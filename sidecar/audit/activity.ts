/**
 * Throttled session activity (pure): the request path calls `note(key, clientIP, policy, rule, now)` for every
 * admitted request — a Map lookup and four field writes on a slot that already exists, no allocation in the
 * steady state — and the sweep calls `due(now)` to collect, per key with requests since its last report and no
 * report for `intervalMs`, one report (requests since the last, last client IP, last admitting rule), then resets
 * the count. The first request of a key is due at once (its session just appeared). Slots without requests for
 * `forgetAfterMs` are forgotten; at most `maxSlots` exist (further keys are counted in `overflow`, not tracked).
 *
 * Keys are whatever identifies a session cheaply on the request path (the verified principal object: the token
 * cache hands the same object to every request of a token).
 */
export interface ActivitySlot<K> {
  key: K;
  requests: number;
  clientIP: string;
  policy: string;
  rule: string;
  lastAt: number;
  reportedAt: number;
}

export type ActivityReport<K> = Omit<ActivitySlot<K>, "reportedAt">;

export interface ActivityOptions {
  intervalMs: number;
  forgetAfterMs?: number;
  maxSlots?: number;
}

export class ActivityTracker<K> {
  readonly #slots = new Map<K, ActivitySlot<K>>();
  readonly #intervalMs: number;
  readonly #forgetAfterMs: number;
  readonly #maxSlots: number;
  overflow = 0;

  constructor(options: ActivityOptions) {
    this.#intervalMs = options.intervalMs;
    this.#forgetAfterMs = options.forgetAfterMs ?? Math.max(60_000, 6 * options.intervalMs);
    this.#maxSlots = options.maxSlots ?? 100_000;
  }

  get size(): number {
    return this.#slots.size;
  }

  note(key: K, clientIP: string, policy: string, rule: string, now: number): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      slot.requests += 1;
      slot.clientIP = clientIP;
      slot.policy = policy;
      slot.rule = rule;
      slot.lastAt = now;
      return;
    }
    if (this.#slots.size >= this.#maxSlots) {
      this.overflow += 1;
      return;
    }
    this.#slots.set(key, { key, requests: 1, clientIP, policy, rule, lastAt: now, reportedAt: Number.NEGATIVE_INFINITY });
  }

  /** Reports due at `now` (see the file comment); forgets long-quiet slots. */
  due(now: number): ActivityReport<K>[] {
    const out: ActivityReport<K>[] = [];
    for (const slot of this.#slots.values()) {
      if (slot.requests === 0) {
        if (now - slot.lastAt >= this.#forgetAfterMs) this.#slots.delete(slot.key);
        continue;
      }
      if (now - slot.reportedAt < this.#intervalMs) continue;
      out.push({ key: slot.key, requests: slot.requests, clientIP: slot.clientIP, policy: slot.policy, rule: slot.rule, lastAt: slot.lastAt });
      slot.requests = 0;
      slot.reportedAt = now;
    }
    return out;
  }

  /** Everything still counted (shutdown). */
  flushAll(): ActivityReport<K>[] {
    return this.due(Number.POSITIVE_INFINITY);
  }
}
