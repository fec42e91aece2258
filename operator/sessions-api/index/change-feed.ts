/**
 * The index's change feed: one resource-version counter for the whole index (starting at `rvBase`), every change of
 * a namespace's object taking the next value; changes are told to subscribers and kept in a window of the last
 * `windowSize` changes that watches resume from (`eventsSince`). Objects are rendered only when someone watches:
 * once per change while subscribers are notified, on demand (their current state) for a replay; the window keeps
 * no object except the last state of a deleted one.
 */
import type { VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { PartEntry, SessionEntry } from "./entries.ts";
import { EventLog } from "./event-log.ts";
import { fieldsOf, type SelectableFields } from "./render.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface IndexEvent {
  rv: number;
  type: WatchEventType;
  namespace: string;
  name: string;
  /**
   * The namespace's object after the change (for DELETED: its last state). Rendered on first use and shared by
   * every watcher: listeners call it while they are notified (the state of that change); replays get the current
   * state (see eventsSince).
   */
  object: () => VigilSession;
  fields: SelectableFields;
  /** Fields before the change (undefined for ADDED). */
  prev: SelectableFields | undefined;
}

/** What the window keeps of a change: no object (rendered only for watchers), except the last state of a deleted one. */
interface LogEntry {
  rv: number;
  type: WatchEventType;
  namespace: string;
  name: string;
  fields: SelectableFields;
  prev: SelectableFields | undefined;
  deleted: VigilSession | undefined;
}

/** A namespace's object as the index serves it. */
export interface Served {
  session: SessionEntry;
  part: PartEntry;
}

export interface ChangeFeedOptions {
  rvBase: number;
  windowSize: number;
  /** The object the index serves now as namespace/name (replays show the current state). */
  served: (namespace: string, name: string) => Served | undefined;
  render: (session: SessionEntry, part: PartEntry) => VigilSession;
}

function memo<T>(fn: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: fn() }).v;
}

export class ChangeFeed {
  /** The first resource version this feed issued (versions below it belong to another process). */
  readonly rvBase: number;
  #rv: number;
  readonly #log: EventLog<LogEntry>;
  readonly #listeners = new Set<(e: IndexEvent) => void>();
  readonly #served: ChangeFeedOptions["served"];
  readonly #render: ChangeFeedOptions["render"];

  constructor(options: ChangeFeedOptions) {
    this.rvBase = options.rvBase;
    this.#rv = options.rvBase;
    this.#log = new EventLog(options.windowSize);
    this.#served = options.served;
    this.#render = options.render;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** The object was created or changed: it takes the next resource version, watchers are told. */
  changed(session: SessionEntry, part: PartEntry, type: "ADDED" | "MODIFIED", prev: SelectableFields | undefined): void {
    const rv = this.#next(part);
    this.#emit({ rv, type, namespace: part.namespace, name: session.id, fields: fieldsOf(session, part), prev, deleted: undefined }, () =>
      this.#render(session, part),
    );
  }

  /** The object is no longer served: it takes the next resource version, watchers get DELETED with its last state (returned). */
  deleted(session: SessionEntry, part: PartEntry): VigilSession {
    const rv = this.#next(part);
    const object = this.#render(session, part);
    const fields = fieldsOf(session, part);
    this.#emit({ rv, type: "DELETED", namespace: part.namespace, name: session.id, fields, prev: fields, deleted: object });
    return object;
  }

  subscribe(listener: (e: IndexEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * What changed after `rv`, one event per object, in order: ADDED (with its current state) for an object created
   * after `rv`, MODIFIED for one changed, DELETED (its last state) for one deleted — nothing for one created and
   * deleted meanwhile; `prev` is its fields at `rv`. "expired" when changes after `rv` already left the window,
   * "unknown" when `rv` is not this feed's.
   */
  eventsSince(rv: number): IndexEvent[] | "expired" | "unknown" {
    if (rv < this.rvBase || rv > this.#rv) return "unknown";
    const entries = this.#log.since(rv);
    if (entries === "expired") return "expired";
    const byKey = new Map<string, { first: LogEntry; last: LogEntry }>();
    for (const e of entries) {
      const key = `${e.namespace}/${e.name}`;
      const known = byKey.get(key);
      if (known === undefined) byKey.set(key, { first: e, last: e });
      else byKey.set(key, { first: known.first, last: e });
    }
    const out: IndexEvent[] = [];
    for (const { first, last } of [...byKey.values()].sort((a, b) => a.last.rv - b.last.rv)) {
      const event = this.#coalesced(first, last);
      if (event !== undefined) out.push(event);
    }
    return out;
  }

  #next(part: PartEntry): number {
    this.#rv += 1;
    part.rv = this.#rv;
    return this.#rv;
  }

  #coalesced(first: LogEntry, last: LogEntry): IndexEvent | undefined {
    const created = first.type === "ADDED";
    if (last.type === "DELETED") {
      const deleted = last.deleted;
      if (created || deleted === undefined) return undefined;
      return { rv: last.rv, type: "DELETED", namespace: last.namespace, name: last.name, object: () => deleted, fields: last.fields, prev: first.prev };
    }
    const served = this.#served(last.namespace, last.name);
    if (served === undefined) return undefined;
    const { session, part } = served;
    const object = memo(() => this.#render(session, part));
    return {
      rv: part.rv,
      type: created ? "ADDED" : "MODIFIED",
      namespace: last.namespace,
      name: last.name,
      object,
      fields: fieldsOf(session, part),
      prev: created ? undefined : first.prev,
    };
  }

  /** Logs the change; listeners get it with the object rendered at most once (now, while it is this state). */
  #emit(entry: LogEntry, render?: () => VigilSession): void {
    this.#log.append(entry);
    if (this.#listeners.size === 0) return;
    const { deleted } = entry;
    const object =
      deleted !== undefined
        ? () => deleted
        : memo(
            render ??
              (() => {
                throw new Error("no object to render");
              }),
          );
    const event: IndexEvent = { rv: entry.rv, type: entry.type, namespace: entry.namespace, name: entry.name, object, fields: entry.fields, prev: entry.prev };
    for (const listener of this.#listeners) listener(event);
  }
}
