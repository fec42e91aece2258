/**
 * SessionIndex: every session the sidecars reported, in memory, as the sessions API serves them. Pure (no I/O, no
 * timers: the owner calls `sweep()` periodically); the real index in the operator and in tests alike.
 *
 * Ingest (see operator/api/sessions/records.ts for the record shapes; each returns false for a record it cannot
 * use, counted in `stats().rejected`, and never throws):
 *   upsertSession(SessionSeen)   create the session / its part in the workload's namespace, or refresh activity,
 *                                last client IP, user agent, identity, requests, admitting rule
 *   upsertFlow(FlowSeen)         a live flow opened or its counters moved
 *   closeFlow(FlowClosed)        a flow closed (its bytes go to closedFlows)
 *   recordEvent(SessionEventSeen) keep the last `maxEventsPerPart` audit events per namespace
 *   endSession(SessionEnded)     the session ended everywhere (live flows are closed with it)
 *   markSidecarStale(PodRef) / markSidecarLive(PodRef)   the pod's sidecar stopped / resumed heartbeating
 *   deleteObject(ns, id, request)                        a DELETE through the API: the namespace's object is
 *                                                        no longer served (DELETED to watchers) — unless the
 *                                                        session shows activity there after the delete
 *
 * Views: a session appears in every namespace it touched, with that namespace's part (`get(ns, id)`), listed in
 * (namespace, name) order (`namespaces()`, `idsIn(ns)`).
 *
 * Resource versions: one counter for the whole index, starting at `rvBase` (default: the start time in µs, so a
 * restarted operator never reuses a version); every change of a namespace's object takes the next value. Changes
 * are published to subscribers and kept in a window of `eventLogSize` changes that watches resume from (objects
 * are rendered only when someone watches: ingest without watchers allocates no API objects).
 *
 * Retention (`sweep(now)`): an ended session is dropped `retentionMs` after its end (default 24 h), a session
 * without activity for `retentionMs` too; states that change with time alone (Active → Idle after `idleAfterMs`
 * without flows or activity) are published by the sweep. See docs/decisions/sessions-api-0005-retention.md.
 */
import type { FlowClosed, FlowSeen, PodRef, SessionEnded, SessionEventSeen, SessionSeen } from "../../api/sessions/records.ts";
import type { SessionIdentity, VigilSession } from "../../api/sessions/v1alpha1.ts";
import { appended, newPart, partIn, pushBounded, stateOf, type PartEntry, type SessionEntry, type TerminationRequest } from "./entries.ts";
import { EventLog } from "./event-log.ts";
import { StringPool } from "./string-pool.ts";
import { fieldsOf, renderSession, uidFor, type SelectableFields } from "./render.ts";
import { checkEventSeen, checkFlowClosed, checkFlowSeen, checkPodRef, checkSessionEnded, checkSessionSeen, type Checked } from "./validate.ts";

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

export interface SessionIndexOptions {
  retentionMs?: number;
  idleAfterMs?: number;
  maxEventsPerPart?: number;
  maxFlowsPerPart?: number;
  maxWorkloadsPerPart?: number;
  /** How many recent changes a watch can resume from. Default 4096. */
  eventLogSize?: number;
  now?: () => number;
  rvBase?: number;
}

export interface IndexStats {
  sessions: number;
  /** (session, namespace) objects. */
  objects: number;
  resourceVersion: number;
  rejected: Record<string, number>;
  stalePods: number;
}

const DEFAULTS = { retentionMs: 24 * 3600_000, idleAfterMs: 120_000, maxEventsPerPart: 16, maxFlowsPerPart: 256, maxWorkloadsPerPart: 64, eventLogSize: 4096 };
const MAX_ADMISSIONS = 16;

const podKey = (namespace: string, pod: string): string => `${namespace}/${pod}`;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameIdentity(a: SessionIdentity, b: SessionIdentity): boolean {
  if (a.issuer !== b.issuer || a.subject !== b.subject || a.email !== b.email || !sameList(a.groups, b.groups)) return false;
  const ca = Object.entries(a.claims ?? {});
  const cb = b.claims ?? {};
  return ca.length === Object.keys(cb).length && ca.every(([k, v]) => JSON.stringify(v) === JSON.stringify(cb[k]));
}

function memo<T>(fn: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: fn() }).v;
}

export class SessionIndex {
  readonly retentionMs: number;
  readonly idleAfterMs: number;
  readonly #o: typeof DEFAULTS;
  readonly #now: () => number;
  readonly #rvBase: number;
  #rv: number;
  readonly #sessions = new Map<string, SessionEntry>();
  readonly #byNamespace = new Map<string, Map<string, SessionEntry>>();
  readonly #sortedIds = new Map<string, string[]>();
  #sortedNamespaces: string[] | undefined;
  readonly #podSessions = new Map<string, Set<SessionEntry>>();
  readonly #stalePods = new Set<string>();
  readonly #identities = new Map<string, SessionIdentity>();
  readonly #strings = new StringPool();
  readonly #log: EventLog<LogEntry>;
  readonly #listeners = new Set<(e: IndexEvent) => void>();
  readonly #rejected: Record<string, number> = {};

  constructor(options: SessionIndexOptions = {}) {
    this.#o = {
      retentionMs: options.retentionMs ?? DEFAULTS.retentionMs,
      idleAfterMs: options.idleAfterMs ?? DEFAULTS.idleAfterMs,
      maxEventsPerPart: options.maxEventsPerPart ?? DEFAULTS.maxEventsPerPart,
      maxFlowsPerPart: options.maxFlowsPerPart ?? DEFAULTS.maxFlowsPerPart,
      maxWorkloadsPerPart: options.maxWorkloadsPerPart ?? DEFAULTS.maxWorkloadsPerPart,
      eventLogSize: options.eventLogSize ?? DEFAULTS.eventLogSize,
    };
    this.retentionMs = this.#o.retentionMs;
    this.idleAfterMs = this.#o.idleAfterMs;
    this.#now = options.now ?? Date.now;
    this.#rvBase = options.rvBase ?? Date.now() * 1000;
    this.#rv = this.#rvBase;
    this.#log = new EventLog(this.#o.eventLogSize);
  }

  // ---------------------------------------------------------------- ingest

  upsertSession(record: SessionSeen): boolean {
    const rec = this.#accept("session", checkSessionSeen(record));
    if (rec === undefined) return false;
    const known = this.#sessions.get(rec.sessionId);
    const session = known ?? this.#createSession(rec);
    const befores = new Map(session.parts.map((p) => [p, fieldsOf(session, p)] as const));
    const wideChanged = known !== undefined && this.#refreshSessionWide(session, rec);
    const { part, type } = this.#seenIn(session, rec);
    this.#publish(session, part, type, type === "ADDED" ? undefined : befores.get(part));
    if (wideChanged) for (const other of session.parts) if (other !== part) this.#publish(session, other, "MODIFIED", befores.get(other));
    return true;
  }

  upsertFlow(record: FlowSeen): boolean {
    const rec = this.#accept("flow", checkFlowSeen(record));
    if (rec === undefined) return false;
    const found = this.#partFor(rec.sessionId, rec.workload, rec.openedAt, "flow");
    if (found === undefined) return false;
    const { session, part, before, isNew } = found;
    const flow = part.flows.find((f) => f.id === rec.flowId && f.pod === rec.workload.pod);
    if (flow !== undefined) {
      flow.bytesIn = Math.max(flow.bytesIn, rec.bytesIn);
      flow.bytesOut = Math.max(flow.bytesOut, rec.bytesOut);
    } else {
      if (session.endTime !== undefined) return this.#reject("flow", "session already ended");
      if (part.flows.length >= this.#o.maxFlowsPerPart) return this.#reject("flow", "too many live flows");
      part.flows = appended(part.flows, { id: rec.flowId, pod: this.#strings.intern(rec.workload.pod), kind: rec.kind, peer: rec.peer, port: rec.port, bytesIn: rec.bytesIn, bytesOut: rec.bytesOut, openedAt: rec.openedAt });
      part.lastSeen = Math.max(part.lastSeen, rec.openedAt);
    }
    this.#publish(session, part, isNew ? "ADDED" : "MODIFIED", before);
    return true;
  }

  closeFlow(record: FlowClosed): boolean {
    const rec = this.#accept("flowClosed", checkFlowClosed(record));
    if (rec === undefined) return false;
    const found = this.#partFor(rec.sessionId, rec.workload, rec.closedAt, "flowClosed");
    if (found === undefined) return false;
    const { session, part, before, isNew } = found;
    const live = part.flows.some((f) => f.id === rec.flowId && f.pod === rec.workload.pod);
    if (!live && session.endTime !== undefined) return true; // endSession already counted it among the closed flows
    part.flows = part.flows.filter((f) => f.id !== rec.flowId || f.pod !== rec.workload.pod);
    part.closedCount += 1;
    part.closedBytesIn += rec.bytesIn;
    part.closedBytesOut += rec.bytesOut;
    part.lastSeen = Math.max(part.lastSeen, rec.closedAt);
    this.#publish(session, part, isNew ? "ADDED" : "MODIFIED", before);
    return true;
  }

  recordEvent(record: SessionEventSeen): boolean {
    const rec = this.#accept("event", checkEventSeen(record));
    if (rec === undefined) return false;
    const s = this.#strings;
    const entry = { time: rec.time, type: s.intern(rec.type), code: s.intern(rec.code), outcome: s.intern(rec.outcome), reason: s.intern(rec.reason), pod: s.intern(rec.workload?.pod) };
    if (rec.workload !== undefined) {
      const found = this.#partFor(rec.sessionId, rec.workload, rec.time, "event");
      if (found === undefined) return false;
      found.part.events = pushBounded(found.part.events, entry, this.#o.maxEventsPerPart);
      this.#publish(found.session, found.part, found.isNew ? "ADDED" : "MODIFIED", found.before);
      return true;
    }
    const session = this.#sessions.get(rec.sessionId);
    if (session === undefined) return this.#reject("event", "unknown session");
    for (const part of session.parts) {
      const before = fieldsOf(session, part);
      part.events = pushBounded(part.events, entry, this.#o.maxEventsPerPart);
      this.#publish(session, part, "MODIFIED", before);
    }
    return true;
  }

  endSession(record: SessionEnded): boolean {
    const rec = this.#accept("end", checkSessionEnded(record));
    if (rec === undefined) return false;
    const session = this.#sessions.get(rec.sessionId);
    if (session === undefined) return this.#reject("end", "unknown session");
    if (session.endTime !== undefined) return true; // already ended: the first end wins
    const befores = session.parts.map((p) => fieldsOf(session, p));
    session.endTime = rec.time;
    session.endReason = this.#strings.intern(rec.reason);
    session.endDetail = rec.detail;
    session.parts.forEach((part, i) => {
      for (const f of part.flows) {
        part.closedCount += 1;
        part.closedBytesIn += f.bytesIn;
        part.closedBytesOut += f.bytesOut;
      }
      part.flows = [];
      this.#publish(session, part, "MODIFIED", befores[i]);
    });
    return true;
  }

  /** The pod's sidecar stopped heartbeating: its sessions' parts are marked stale. Returns the objects changed. */
  markSidecarStale(pod: PodRef): number {
    return this.#setStale(pod, true);
  }

  markSidecarLive(pod: PodRef): number {
    return this.#setStale(pod, false);
  }

  /**
   * A DELETE through the API: the namespace's object stops being served (watchers get DELETED with its last
   * state) and is returned; undefined when there is no such object. Its data is kept (with the request) until
   * the session expires, and the object comes back if the session is seen active there after the delete.
   */
  deleteObject(namespace: string, id: string, request: TerminationRequest): VigilSession | undefined {
    const session = this.#byNamespace.get(namespace)?.get(id);
    const part = session === undefined ? undefined : partIn(session, namespace);
    if (session === undefined || part === undefined) return undefined;
    part.termination = request;
    part.state = stateOf(session, part, this.#now(), this.#o.idleAfterMs);
    part.hidden = true;
    this.#unlist(session, namespace);
    this.#rv += 1;
    part.rv = this.#rv;
    const object = this.#render(session, part);
    const fields = fieldsOf(session, part);
    this.#emit({ rv: this.#rv, type: "DELETED", namespace, name: id, fields, prev: fields, deleted: object });
    return object;
  }

  /** Drops expired sessions and publishes time-driven state changes. Returns what it did. */
  sweep(now = this.#now()): { removed: number; changed: number } {
    let removed = 0;
    let changed = 0;
    for (const session of [...this.#sessions.values()]) {
      const endedLongAgo = session.endTime !== undefined && now - session.endTime > this.#o.retentionMs;
      const dormant = session.endTime === undefined && now - session.lastActivity > this.#o.retentionMs && session.parts.every((p) => p.flows.length === 0);
      if (endedLongAgo || dormant) {
        this.#remove(session);
        removed += 1;
        continue;
      }
      for (const part of session.parts) {
        if (stateOf(session, part, now, this.#o.idleAfterMs) !== part.state) {
          this.#publish(session, part, "MODIFIED", fieldsOf(session, part), now);
          changed += 1;
        }
      }
    }
    return { removed, changed };
  }

  // ---------------------------------------------------------------- reads

  get resourceVersion(): number {
    return this.#rv;
  }

  /** The first resource version this index issued (versions below it belong to another process). */
  get resourceVersionBase(): number {
    return this.#rvBase;
  }

  /** The namespace's object; `detail` false leaves out the recent events (enough for Tables). */
  get(namespace: string, id: string, detail = true): VigilSession | undefined {
    const session = this.#byNamespace.get(namespace)?.get(id);
    const part = session === undefined ? undefined : partIn(session, namespace);
    return session === undefined || part === undefined ? undefined : this.#render(session, part, detail);
  }

  /** Selectable fields of an object, without rendering it. */
  fields(namespace: string, id: string): SelectableFields | undefined {
    const session = this.#byNamespace.get(namespace)?.get(id);
    const part = session === undefined ? undefined : partIn(session, namespace);
    return session === undefined || part === undefined ? undefined : fieldsOf(session, part);
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
   * "unknown" when `rv` is not this index's.
   */
  eventsSince(rv: number): IndexEvent[] | "expired" | "unknown" {
    if (rv < this.#rvBase || rv > this.#rv) return "unknown";
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

  stats(): IndexStats {
    return { sessions: this.#sessions.size, objects: this.count(""), resourceVersion: this.#rv, rejected: { ...this.#rejected }, stalePods: this.#stalePods.size };
  }

  isStalePod(namespace: string, pod: string): boolean {
    return this.#stalePods.has(podKey(namespace, pod));
  }

  // ---------------------------------------------------------------- internals

  #accept<T>(kind: string, checked: Checked<T>): T | undefined {
    if (checked.ok) return checked.value;
    this.#reject(kind, checked.reason);
    return undefined;
  }

  #reject(kind: string, reason: string): false {
    const key = `${kind}: ${reason}`;
    this.#rejected[key] = (this.#rejected[key] ?? 0) + 1;
    return false;
  }

  #coalesced(first: LogEntry, last: LogEntry): IndexEvent | undefined {
    const created = first.type === "ADDED";
    if (last.type === "DELETED") {
      const deleted = last.deleted;
      if (created || deleted === undefined) return undefined;
      return { rv: last.rv, type: "DELETED", namespace: last.namespace, name: last.name, object: () => deleted, fields: last.fields, prev: first.prev };
    }
    const session = this.#byNamespace.get(last.namespace)?.get(last.name);
    const part = session === undefined ? undefined : partIn(session, last.namespace);
    if (session === undefined || part === undefined) return undefined;
    const object = memo(() => this.#render(session, part));
    return { rv: part.rv, type: created ? "ADDED" : "MODIFIED", namespace: last.namespace, name: last.name, object, fields: fieldsOf(session, part), prev: created ? undefined : first.prev };
  }

  #render(session: SessionEntry, part: PartEntry, detail = true): VigilSession {
    return renderSession(session, part, { isStalePod: this.#isStale, detail });
  }

  readonly #isStale = (ns: string, pod: string): boolean => this.#stalePods.size > 0 && this.#stalePods.has(podKey(ns, pod));

  /** The part of the record's namespace, created or served again, with the activity applied. */
  #seenIn(session: SessionEntry, rec: SessionSeen): { part: PartEntry; type: WatchEventType } {
    const existing = partIn(session, rec.workload.namespace);
    const part = existing ?? this.#addPart(session, rec.workload.namespace, rec.time);
    const reappears = part.hidden && rec.time > (part.termination?.time ?? 0);
    if (reappears) this.#relist(session, part);
    this.#touchWorkload(session, part, rec.workload, rec.time);
    part.lastSeen = Math.max(part.lastSeen, rec.time);
    part.requests += rec.requests ?? 0;
    if (rec.admittedBy !== undefined) this.#admit(part, rec.admittedBy);
    return { part, type: existing === undefined || reappears ? "ADDED" : "MODIFIED" };
  }

  #createSession(rec: SessionSeen): SessionEntry {
    const session: SessionEntry = {
      id: rec.sessionId,
      identity: this.#intern(rec.identity),
      firstIP: rec.clientIP,
      lastIP: rec.clientIP,
      userAgent: this.#strings.intern(rec.userAgent),
      startTime: Math.min(rec.startTime ?? rec.time, rec.time),
      lastActivity: rec.time,
      endTime: undefined,
      endReason: undefined,
      endDetail: undefined,
      parts: [],
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  #admit(part: PartEntry, admitted: { policy: string; rule: string }): void {
    if (part.admittedBy.length >= MAX_ADMISSIONS) return;
    if (!part.admittedBy.some((a) => a.policy === admitted.policy && a.rule === admitted.rule)) {
      part.admittedBy = appended(part.admittedBy, { policy: this.#strings.intern(admitted.policy), rule: this.#strings.intern(admitted.rule) });
    }
  }

  /** Identical identities (one user's many sessions) share one object. */
  #intern(identity: SessionIdentity, current?: SessionIdentity): SessionIdentity {
    if (current !== undefined && sameIdentity(current, identity)) return current;
    const key = JSON.stringify(identity);
    const known = this.#identities.get(key);
    if (known !== undefined) return known;
    if (this.#identities.size >= 10_000) this.#identities.clear();
    const shared: SessionIdentity = { ...identity, issuer: this.#strings.intern(identity.issuer), groups: identity.groups.map((g) => this.#strings.intern(g)) };
    this.#identities.set(key, shared);
    return shared;
  }

  /** Session-wide facts from a newer observation; true when something every namespace shows changed. */
  #refreshSessionWide(session: SessionEntry, rec: SessionSeen): boolean {
    let changed = false;
    if (rec.time >= session.lastActivity) {
      session.lastActivity = rec.time;
      if (session.lastIP !== rec.clientIP) {
        session.lastIP = rec.clientIP;
        changed = true;
      }
      if (rec.userAgent !== undefined && rec.userAgent !== session.userAgent) {
        session.userAgent = this.#strings.intern(rec.userAgent);
        changed = true;
      }
      const identity = this.#intern(rec.identity, session.identity);
      if (identity !== session.identity) {
        session.identity = identity;
        changed = true;
      }
    }
    if (rec.startTime !== undefined && rec.startTime < session.startTime) {
      session.startTime = rec.startTime;
      changed = true;
    }
    return changed;
  }

  #addPart(session: SessionEntry, namespace: string, time: number): PartEntry {
    const part = newPart(this.#strings.intern(namespace), uidFor(namespace, session.id), time);
    session.parts = appended(session.parts, part);
    this.#list(session, namespace);
    return part;
  }

  /** Serve (session, namespace) in listings. */
  #list(session: SessionEntry, namespace: string): void {
    let map = this.#byNamespace.get(namespace);
    if (map === undefined) {
      map = new Map();
      this.#byNamespace.set(namespace, map);
      this.#sortedNamespaces = undefined;
    }
    map.set(session.id, session);
    this.#sortedIds.delete(namespace);
  }

  #unlist(session: SessionEntry, namespace: string): void {
    const map = this.#byNamespace.get(namespace);
    if (map?.delete(session.id) !== true) return;
    this.#sortedIds.delete(namespace);
    if (map.size === 0) {
      this.#byNamespace.delete(namespace);
      this.#sortedNamespaces = undefined;
    }
  }

  /** A deleted object seen active again: served again (its termination request stays visible). */
  #relist(session: SessionEntry, part: PartEntry): void {
    part.hidden = false;
    this.#list(session, part.namespace);
  }

  #touchWorkload(session: SessionEntry, part: PartEntry, w: { pod: string; kind?: string; name?: string }, time: number): void {
    const known = part.workloads.find((x) => x.pod === w.pod);
    if (known !== undefined) {
      known.lastSeen = Math.max(known.lastSeen, time);
      known.kind ??= w.kind;
      known.name ??= w.name;
      return;
    }
    if (part.workloads.length >= this.#o.maxWorkloadsPerPart) return;
    part.workloads = appended(part.workloads, { pod: this.#strings.intern(w.pod), kind: this.#strings.intern(w.kind), name: this.#strings.intern(w.name), firstSeen: time, lastSeen: time });
    const key = podKey(part.namespace, w.pod);
    let set = this.#podSessions.get(key);
    if (set === undefined) {
      set = new Set();
      this.#podSessions.set(key, set);
    }
    set.add(session);
  }

  /** The part a flow/event record belongs to, created (with the workload) when the session is known. */
  #partFor(id: string, workload: PodRef, time: number, kind: string): { session: SessionEntry; part: PartEntry; before: SelectableFields | undefined; isNew: boolean } | undefined {
    const session = this.#sessions.get(id);
    if (session === undefined) {
      this.#reject(kind, "unknown session");
      return undefined;
    }
    let part = partIn(session, workload.namespace);
    const before = part === undefined ? undefined : fieldsOf(session, part);
    const isNew = part === undefined;
    part ??= this.#addPart(session, workload.namespace, time);
    this.#touchWorkload(session, part, workload, time);
    return { session, part, before, isNew };
  }

  #setStale(pod: PodRef, stale: boolean): number {
    const checked = checkPodRef(pod);
    if (!checked.ok) {
      this.#reject("stale", checked.reason);
      return 0;
    }
    const key = podKey(pod.namespace, pod.pod);
    if (stale === this.#stalePods.has(key)) return 0;
    if (stale) this.#stalePods.add(key);
    else this.#stalePods.delete(key);
    let changed = 0;
    for (const session of this.#podSessions.get(key) ?? []) {
      const part = partIn(session, pod.namespace);
      if (part === undefined) continue;
      if (this.#computeStale(session, part) !== part.stale) {
        this.#publish(session, part, "MODIFIED", fieldsOf(session, part));
        changed += 1;
      }
    }
    return changed;
  }

  #computeStale(session: SessionEntry, part: PartEntry): boolean {
    return session.endTime === undefined && part.workloads.some((w) => this.#stalePods.has(podKey(part.namespace, w.pod)));
  }

  #publish(session: SessionEntry, part: PartEntry, type: WatchEventType, prev: SelectableFields | undefined, now = this.#now()): void {
    part.state = stateOf(session, part, now, this.#o.idleAfterMs);
    part.stale = this.#computeStale(session, part);
    if (part.hidden) return; // deleted through the API: nothing to tell watchers
    this.#rv += 1;
    part.rv = this.#rv;
    this.#emit({ rv: this.#rv, type, namespace: part.namespace, name: session.id, fields: fieldsOf(session, part), prev, deleted: undefined }, () => this.#render(session, part));
  }

  /** Logs the change; listeners get it with the object rendered at most once (now, while it is this state). */
  #emit(entry: LogEntry, render?: () => VigilSession): void {
    this.#log.append(entry);
    if (this.#listeners.size === 0) return;
    const { deleted } = entry;
    const object = deleted !== undefined ? () => deleted : memo(render ?? (() => { throw new Error("no object to render"); }));
    const event: IndexEvent = { rv: entry.rv, type: entry.type, namespace: entry.namespace, name: entry.name, object, fields: entry.fields, prev: entry.prev };
    for (const listener of this.#listeners) listener(event);
  }

  #remove(session: SessionEntry): void {
    this.#sessions.delete(session.id);
    for (const part of session.parts) {
      this.#unlist(session, part.namespace);
      for (const w of part.workloads) {
        const key = podKey(part.namespace, w.pod);
        const set = this.#podSessions.get(key);
        set?.delete(session);
        if (set !== undefined && set.size === 0) this.#podSessions.delete(key);
      }
      if (part.hidden) continue; // its DELETED was sent when it was deleted
      this.#rv += 1;
      part.rv = this.#rv;
      const fields = fieldsOf(session, part);
      this.#emit({ rv: this.#rv, type: "DELETED", namespace: part.namespace, name: session.id, fields, prev: fields, deleted: this.#render(session, part) });
    }
  }
}
