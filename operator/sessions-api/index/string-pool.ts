/**
 * One copy of each repeated string (namespace, pod and workload names, user agents, groups, event codes …): the
 * records arrive parsed from JSON, every field a fresh copy, and most of them repeat across thousands of sessions.
 * Bounded: past `max` distinct strings the pool starts over (strings already stored stay valid).
 */
export class StringPool {
  readonly #max: number;
  #pool = new Map<string, string>();

  constructor(max = 50_000) {
    this.#max = max;
  }

  get size(): number {
    return this.#pool.size;
  }

  intern(value: string): string;
  intern(value: string | undefined): string | undefined;
  intern(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    const known = this.#pool.get(value);
    if (known !== undefined) return known;
    if (this.#pool.size >= this.#max) this.#pool = new Map();
    this.#pool.set(value, value);
    return value;
  }
}
