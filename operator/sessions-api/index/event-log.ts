/**
 * The window of recent changes a watch can resume from (a ring of the last `capacity` events, in resource-version
 * order). `since(rv)` returns the events after `rv`, or "expired" when an event after `rv` already left the window
 * (the client must list again: 410 Gone).
 */
export class EventLog<E extends { rv: number }> {
  readonly #ring: (E | undefined)[];
  #start = 0;
  #size = 0;
  /** Highest resource version that left the window (0: none yet). */
  #evictedUpTo = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.#ring = new Array<E | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  append(event: E): void {
    const cap = this.#ring.length;
    if (this.#size === cap) {
      const old = this.#ring[this.#start];
      if (old !== undefined) this.#evictedUpTo = old.rv;
      this.#ring[this.#start] = event;
      this.#start = (this.#start + 1) % cap;
    } else {
      this.#ring[(this.#start + this.#size) % cap] = event;
      this.#size += 1;
    }
  }

  since(rv: number): E[] | "expired" {
    if (rv < this.#evictedUpTo) return "expired";
    const cap = this.#ring.length;
    const out: E[] = [];
    // Binary search for the first event with rv > `rv` (the ring is in increasing rv order).
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.#ring[(this.#start + mid) % cap];
      if (e !== undefined && e.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#size; i++) {
      const e = this.#ring[(this.#start + i) % cap];
      if (e !== undefined) out.push(e);
    }
    return out;
  }
}
