/**
 * The index's own compact records (memory first: numbers for times, small arrays instead of maps, strings shared
 * with the validated records). A `SessionEntry` holds the session-wide facts and one `PartEntry` per namespace the
 * session touched; the API's objects are rendered from these on demand (render.ts).
 */
import type { SessionFinding, SessionLocation } from "../../api/protections/findings.ts";
import type { FlowKind, SessionAdmission, SessionIdentity, SessionState } from "../../api/sessions/v1alpha1.ts";

export interface WorkloadEntry {
  pod: string;
  kind: string | undefined;
  name: string | undefined;
  firstSeen: number;
  lastSeen: number;
}

export interface FlowEntry {
  id: string;
  pod: string;
  kind: FlowKind;
  peer: string;
  port: number;
  bytesIn: number;
  bytesOut: number;
  openedAt: number;
}

export interface EventEntry {
  time: number;
  type: string;
  code: string;
  outcome: string;
  reason: string | undefined;
  pod: string | undefined;
}

/** A DELETE through the API: who, when, and the SessionTermination it created (none for an ended session). */
export interface TerminationRequest {
  sessionTermination: string | undefined;
  user: string;
  time: number;
}

export interface PartEntry {
  readonly namespace: string;
  /** The object's uid (derived from namespace and session id, so every replica agrees). */
  readonly uid: string;
  firstSeen: number;
  lastSeen: number;
  requests: number;
  workloads: WorkloadEntry[];
  flows: FlowEntry[];
  closedCount: number;
  closedBytesIn: number;
  closedBytesOut: number;
  events: EventEntry[];
  /** Validated findings of this namespace (bounded, the newest last). */
  findings: SessionFinding[];
  admittedBy: SessionAdmission[];
  termination: TerminationRequest | undefined;
  /** Deleted through the API: not served (until the session shows activity after the delete). */
  hidden: boolean;
  /** Resource version of this namespace's object (the last change that touched it). */
  rv: number;
  /** State and staleness as last published (a sweep publishes time-driven changes). */
  state: SessionState;
  stale: boolean;
}

export interface SessionEntry {
  readonly id: string;
  identity: SessionIdentity;
  firstIP: string;
  lastIP: string;
  userAgent: string | undefined;
  location: SessionLocation | undefined;
  startTime: number;
  lastActivity: number;
  endTime: number | undefined;
  endReason: string | undefined;
  endDetail: string | undefined;
  parts: PartEntry[];
}

export function newPart(namespace: string, uid: string, time: number): PartEntry {
  return {
    namespace,
    uid,
    firstSeen: time,
    lastSeen: time,
    requests: 0,
    workloads: [],
    flows: [],
    closedCount: 0,
    closedBytesIn: 0,
    closedBytesOut: 0,
    events: [],
    findings: [],
    admittedBy: [],
    termination: undefined,
    hidden: false,
    rv: 0,
    state: "Active",
    stale: false,
  };
}

export function partIn(session: SessionEntry, namespace: string): PartEntry | undefined {
  return session.parts.find((p) => p.namespace === namespace);
}

/**
 * `list` with `item` at the end, as a new array of exactly that length: these lists stay short, and an array
 * grown by push() reserves room for 17 entries (memory: 10,000 sessions hold five such lists each).
 */
export function appended<T>(list: readonly T[], item: T): T[] {
  return [...list, item];
}

/** `list` with `item` appended, keeping at most `max` (the oldest dropped), as a new exact-length array. */
export function pushBounded<T>(list: readonly T[], item: T, max: number): T[] {
  const out = appended(list, item);
  return out.length > max ? out.slice(out.length - max) : out;
}

/**
 * The state of a namespace's part at `now`: Ended once the session ended; Active while a flow is open here or the
 * last activity here is at most `idleAfterMs` old; Idle otherwise.
 */
export function stateOf(session: SessionEntry, part: PartEntry, now: number, idleAfterMs: number): SessionState {
  if (session.endTime !== undefined) return "Ended";
  if (part.flows.length > 0 || now - part.lastSeen <= idleAfterMs) return "Active";
  return "Idle";
}
