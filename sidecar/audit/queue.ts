/**
 * A bounded FIFO (pure): the audit events waiting for the next flush. `push` never blocks and never grows past
 * `capacity`: when full the event is dropped and counted (`dropped`, read and reset with `takeDropped`). A ring
 * buffer: no allocation per push once the array exists.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #dropped = 0;
  #droppedTotal = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Dropped since the queue was created. */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }

  push(item: T): boolean {
    if (this.#size === this.capacity) {
      this.#dropped += 1;
      this.#droppedTotal += 1;
      return false;
    }
    this.#items[(this.#head + this.#size) % this.capacity] = item;
    this.#size += 1;
    return true;
  }

  /** Up to `max` items, oldest first, removed from the queue. */
  drain(max: number): T[] {
    const n = Math.min(max, this.#size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) % this.capacity;
      out[i] = this.#items[at] as T;
      this.#items[at] = undefined;
    }
    this.#head = (this.#head + n) % this.capacity;
    this.#size -= n;
    return out;
  }

  /** Drops since the last call (for one `audit.dropped` event per flush). */
  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }
}
