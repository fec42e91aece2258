/**
 * What each namespace serves: the sessions with a listed part there, by id, and the namespaces and ids in sorted
 * order for lists and paging (sorted on first read after a change, then cached).
 */
import { partIn, type SessionEntry } from "./entries.ts";
import type { Served } from "./change-feed.ts";

export class NamespaceListing {
  readonly #byNamespace = new Map<string, Map<string, SessionEntry>>();
  readonly #sortedIds = new Map<string, string[]>();
  #sortedNamespaces: string[] | undefined;

  /** The session and part served as namespace/id. */
  find(namespace: string, id: string): Served | undefined {
    const session = this.#byNamespace.get(namespace)?.get(id);
    const part = session === undefined ? undefined : partIn(session, namespace);
    return session === undefined || part === undefined ? undefined : { session, part };
  }

  /** Serve (session, namespace) in listings. */
  add(session: SessionEntry, namespace: string): void {
    let map = this.#byNamespace.get(namespace);
    if (map === undefined) {
      map = new Map();
      this.#byNamespace.set(namespace, map);
      this.#sortedNamespaces = undefined;
    }
    map.set(session.id, session);
    this.#sortedIds.delete(namespace);
  }

  remove(session: SessionEntry, namespace: string): void {
    const map = this.#byNamespace.get(namespace);
    if (map?.delete(session.id) !== true) return;
    this.#sortedIds.delete(namespace);
    if (map.size === 0) {
      this.#byNamespace.delete(namespace);
      this.#sortedNamespaces = undefined;
    }
  }

  /** Namespaces with at least one session, sorted. */
  namespaces(): readonly string[] {
    this.#sortedNamespaces ??= [...this.#byNamespace.keys()].sort();
    return this.#sortedNamespaces;
  }

  /** Session ids with a part in `namespace`, sorted. */
  idsIn(namespace: string): readonly string[] {
    const map = this.#byNamespace.get(namespace);
    if (map === undefined) return [];
    let ids = this.#sortedIds.get(namespace);
    if (ids === undefined) {
      ids = [...map.keys()].sort();
      this.#sortedIds.set(namespace, ids);
    }
    return ids;
  }

  /** Number of objects in `namespace` ("" = all). */
  count(namespace: string): number {
    if (namespace !== "") return this.#byNamespace.get(namespace)?.size ?? 0;
    let n = 0;
    for (const m of this.#byNamespace.values()) n += m.size;
    return n;
  }
}
