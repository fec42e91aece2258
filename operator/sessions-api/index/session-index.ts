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
 * (namespace, name) order (`namespaces()`, `idsIn(ns)`: listing.ts). The session-wide facts every namespace shows
 * (identity, client IPs, user agent, times) are kept by session-facts.ts.
 *
 * Resource versions (change-feed.ts): one counter for the whole index, starting at `rvBase` (default: the start
 * time in µs, so a restarted operator never reuses a version); every change of a namespace's object takes the next
 * value. Changes are published to subscribers and kept in a window of `eventLogSize` changes that watches resume
 * from (objects are rendered only when someone watches: ingest without watchers allocates no API objects).
 *
 * Retention (`sweep(now)`): an ended session is dropped `retentionMs` after its end (default 24 h), a session
 * without activity for `retentionMs` too; states that change with time alone (Active → Idle after `idleAfterMs`
 * without flows or activity) are published by the sweep. See docs/decisions/sessions-api-0005-retention.md.
 */
import type { FlowClosed, FlowSeen, PodRef, SessionEnded, SessionEventSeen, SessionLocated, SessionSeen, WorkloadRef } from "../../api/sessions/records.ts";
import type { SessionFinding } from "../../api/protections/findings.ts";
import type { VigilSession } from "../../api/sessions/v1alpha1.ts";
import { ChangeFeed, type IndexEvent } from "./change-feed.ts";
import { appended, newPart, partIn, pushBounded, stateOf, type PartEntry, type SessionEntry, type TerminationRequest } from "./entries.ts";
import { NamespaceListing } from "./listing.ts";
import { SessionFacts } from "./session-facts.ts";
import { PodSessions } from "./pods.ts";
import { StringPool } from "./string-pool.ts";
import { fieldsOf, renderSession, uidFor, type SelectableFields } from "./render.ts";
import {
  checkEventSeen,
  checkFinding,
  checkFlowClosed,
  checkFlowSeen,
  checkLocated,
  checkPodRef,
  checkSessionEnded,
  checkSessionSeen,
  type Checked,
} from "./validate.ts";

export type { IndexEvent, WatchEventType } from "./change-feed.ts";

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

export class SessionIndex {
  readonly retentionMs: number;
  readonly idleAfterMs: number;
  readonly #o: typeof DEFAULTS;
  readonly #now: () => number;
  readonly #sessions = new Map<string, SessionEntry>();
  readonly #listing = new NamespaceListing();
  readonly #pods = new PodSessions();
  readonly #strings = new StringPool();
  readonly #facts = new SessionFacts(this.#strings);
  readonly #feed: ChangeFeed;
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
    this.#feed = new ChangeFeed({
      rvBase: options.rvBase ?? Date.now() * 1000,
      windowSize: this.#o.eventLogSize,
      served: (namespace, name) => this.#listing.find(namespace, name),
      render: (session, part) => this.#render(session, part),
    });
  }

  // ---------------------------------------------------------------- ingest

  upsertSession(record: SessionSeen): boolean {
    const rec = this.#accept("session", checkSessionSeen(record));
    if (rec === undefined) return false;
    const known = this.#sessions.get(rec.sessionId);
    const session = known ?? this.#createSession(rec);
    const befores = new Map(session.parts.map((p) => [p, fieldsOf(session, p)] as const));
    const wideChanged = known !== undefined && this.#facts.refresh(session, rec);
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
      part.flows = appended(part.flows, {
        id: rec.flowId,
        pod: this.#strings.intern(rec.workload.pod),
        kind: rec.kind,
        peer: rec.peer,
        port: rec.port,
        bytesIn: rec.bytesIn,
        bytesOut: rec.bytesOut,
        openedAt: rec.openedAt,
      });
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
    const entry = {
      time: rec.time,
      type: s.intern(rec.type),
      code: s.intern(rec.code),
      outcome: s.intern(rec.outcome),
      reason: s.intern(rec.reason),
      pod: s.intern(rec.workload?.pod),
    };
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

  /** A session-protection finding, shown on the session in the finding's namespace (the part must exist). */
  recordFinding(record: SessionFinding): boolean {
    const rec = this.#accept("finding", checkFinding(record));
    if (rec === undefined) return false;
    const found = this.#partFor(rec.sessionId, { namespace: rec.namespace, pod: rec.pod }, rec.time, "finding");
    if (found === undefined) return false;
    found.part.findings = pushBounded(found.part.findings, rec, this.#o.maxEventsPerPart);
    this.#publish(found.session, found.part, found.isNew ? "ADDED" : "MODIFIED", found.before);
    return true;
  }

  /** Where the session's client is now (session-wide: every namespace's object shows it). */
  locate(record: SessionLocated): boolean {
    const rec = this.#accept("location", checkLocated(record));
    if (rec === undefined) return false;
    const session = this.#sessions.get(rec.sessionId);
    if (session === undefined) return this.#reject("location", "unknown session");
    if (JSON.stringify(session.location) === JSON.stringify(rec.location)) return true;
    const befores = session.parts.map((p) => fieldsOf(session, p));
    session.location = rec.location;
    session.parts.forEach((part, i) => {
      this.#publish(session, part, "MODIFIED", befores[i]);
    });
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
    const served = this.#listing.find(namespace, id);
    if (served === undefined) return undefined;
    const { session, part } = served;
    part.termination = request;
    part.state = stateOf(session, part, this.#now(), this.#o.idleAfterMs);
    part.hidden = true;
    this.#listing.remove(session, namespace);
    return this.#feed.deleted(session, part);
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
    return this.#feed.resourceVersion;
  }

  /** The first resource version this index issued (versions below it belong to another process). */
  get resourceVersionBase(): number {
    return this.#feed.rvBase;
  }

  /** The namespace's object; `detail` false leaves out the recent events (enough for Tables). */
  get(namespace: string, id: string, detail = true): VigilSession | undefined {
    const served = this.#listing.find(namespace, id);
    return served === undefined ? undefined : this.#render(served.session, served.part, detail);
  }

  /** Selectable fields of an object, without rendering it. */
  fields(namespace: string, id: string): SelectableFields | undefined {
    const served = this.#listing.find(namespace, id);
    return served === undefined ? undefined : fieldsOf(served.session, served.part);
  }

  /** Namespaces with at least one session, sorted. */
  namespaces(): readonly string[] {
    return this.#listing.namespaces();
  }

  /** Session ids with a part in `namespace`, sorted. */
  idsIn(namespace: string): readonly string[] {
    return this.#listing.idsIn(namespace);
  }

  /** Number of objects in `namespace` ("" = all). */
  count(namespace: string): number {
    return this.#listing.count(namespace);
  }

  subscribe(listener: (e: IndexEvent) => void): () => void {
    return this.#feed.subscribe(listener);
  }

  /**
   * What changed after `rv`, one event per object, in order: ADDED (with its current state) for an object created
   * after `rv`, MODIFIED for one changed, DELETED (its last state) for one deleted — nothing for one created and
   * deleted meanwhile; `prev` is its fields at `rv`. "expired" when changes after `rv` already left the window,
   * "unknown" when `rv` is not this index's.
   */
  eventsSince(rv: number): IndexEvent[] | "expired" | "unknown" {
    return this.#feed.eventsSince(rv);
  }

  stats(): IndexStats {
    return {
      sessions: this.#sessions.size,
      objects: this.count(""),
      resourceVersion: this.#feed.resourceVersion,
      rejected: { ...this.#rejected },
      stalePods: this.#pods.staleCount,
    };
  }

  isStalePod(namespace: string, pod: string): boolean {
    return this.#pods.isStale(namespace, pod);
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

  #render(session: SessionEntry, part: PartEntry, detail = true): VigilSession {
    return renderSession(session, part, { isStalePod: this.#isStale, detail });
  }

  readonly #isStale = (ns: string, pod: string): boolean => this.#pods.isStale(ns, pod);

  /** The part of the record's namespace, created or served again, with the activity applied. */
  #seenIn(session: SessionEntry, rec: SessionSeen): { part: PartEntry; type: "ADDED" | "MODIFIED" } {
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
    const session = this.#facts.create(rec);
    this.#sessions.set(session.id, session);
    return session;
  }

  #admit(part: PartEntry, admitted: { policy: string; rule: string }): void {
    if (part.admittedBy.length >= MAX_ADMISSIONS) return;
    if (!part.admittedBy.some((a) => a.policy === admitted.policy && a.rule === admitted.rule)) {
      part.admittedBy = appended(part.admittedBy, { policy: this.#strings.intern(admitted.policy), rule: this.#strings.intern(admitted.rule) });
    }
  }

  #addPart(session: SessionEntry, namespace: string, time: number): PartEntry {
    const part = newPart(this.#strings.intern(namespace), uidFor(namespace, session.id), time);
    session.parts = appended(session.parts, part);
    this.#listing.add(session, namespace);
    return part;
  }

  /** A deleted object seen active again: served again (its termination request stays visible). */
  #relist(session: SessionEntry, part: PartEntry): void {
    part.hidden = false;
    this.#listing.add(session, part.namespace);
  }

  #touchWorkload(session: SessionEntry, part: PartEntry, w: Omit<WorkloadRef, "namespace">, time: number): void {
    const known = part.workloads.find((x) => x.pod === w.pod);
    if (known !== undefined) {
      known.lastSeen = Math.max(known.lastSeen, time);
      known.kind ??= w.kind;
      known.name ??= w.name;
      return;
    }
    if (part.workloads.length >= this.#o.maxWorkloadsPerPart) return;
    part.workloads = appended(part.workloads, {
      pod: this.#strings.intern(w.pod),
      kind: this.#strings.intern(w.kind),
      name: this.#strings.intern(w.name),
      firstSeen: time,
      lastSeen: time,
    });
    this.#pods.add(part.namespace, w.pod, session);
  }

  /** The part a flow/event record belongs to, created (with the workload) when the session is known. */
  #partFor(
    id: string,
    workload: PodRef,
    time: number,
    kind: string,
  ): { session: SessionEntry; part: PartEntry; before: SelectableFields | undefined; isNew: boolean } | undefined {
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
    if (!this.#pods.setStale(pod.namespace, pod.pod, stale)) return 0;
    let changed = 0;
    for (const session of this.#pods.sessionsOf(pod.namespace, pod.pod)) {
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
    return session.endTime === undefined && part.workloads.some((w) => this.#pods.isStale(part.namespace, w.pod));
  }

  #publish(session: SessionEntry, part: PartEntry, type: "ADDED" | "MODIFIED", prev: SelectableFields | undefined, now = this.#now()): void {
    part.state = stateOf(session, part, now, this.#o.idleAfterMs);
    part.stale = this.#computeStale(session, part);
    if (part.hidden) return; // deleted through the API: nothing to tell watchers
    this.#feed.changed(session, part, type, prev);
  }

  #remove(session: SessionEntry): void {
    this.#sessions.delete(session.id);
    for (const part of session.parts) {
      this.#listing.remove(session, part.namespace);
      for (const w of part.workloads) this.#pods.remove(part.namespace, w.pod, session);
      if (part.hidden) continue; // its DELETED was sent when it was deleted
      this.#feed.deleted(session, part);
    }
  }
}
