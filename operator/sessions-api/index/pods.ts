import type { SessionEntry } from "./entries.ts";

const podKey = (namespace: string, pod: string): string => `${namespace}/${pod}`;

/** Which sessions each pod served, and which pods' sidecars stopped heartbeating (their sessions show stale). */
export class PodSessions {
  readonly #sessions = new Map<string, Set<SessionEntry>>();
  readonly #stale = new Set<string>();

  get staleCount(): number {
    return this.#stale.size;
  }

  add(namespace: string, pod: string, session: SessionEntry): void {
    const key = podKey(namespace, pod);
    let set = this.#sessions.get(key);
    if (set === undefined) {
      set = new Set();
      this.#sessions.set(key, set);
    }
    set.add(session);
  }

  remove(namespace: string, pod: string, session: SessionEntry): void {
    const key = podKey(namespace, pod);
    const set = this.#sessions.get(key);
    set?.delete(session);
    if (set !== undefined && set.size === 0) this.#sessions.delete(key);
  }

  sessionsOf(namespace: string, pod: string): Iterable<SessionEntry> {
    return this.#sessions.get(podKey(namespace, pod)) ?? [];
  }

  isStale(namespace: string, pod: string): boolean {
    return this.#stale.size > 0 && this.#stale.has(podKey(namespace, pod));
  }

  /** False when the pod already was in that state. */
  setStale(namespace: string, pod: string, stale: boolean): boolean {
    const key = podKey(namespace, pod);
    if (stale === this.#stale.has(key)) return false;
    if (stale) this.#stale.add(key);
    else this.#stale.delete(key);
    return true;
  }
}
