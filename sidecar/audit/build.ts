/**
 * Builders of the sidecar's audit events (pure): sidecar facts in, events of operator/api/audit/events.ts out.
 * Session-scoped events leave `cid` empty: the reporter fills it in when the event leaves the process, so
 * building an event never hashes anything.
 */
import type { CloseReason, EndReason } from "../../operator/api/audit/catalogue.ts";
import type {
  AccessRefusedEvent,
  AuditIdentity,
  AuditWorkload,
  FlowCloseEvent,
  FlowFacts,
  FlowOpenEvent,
  FlowProgressEvent,
  Refusal,
  SessionActivityEvent,
  SessionEndEvent,
  SessionFindingEvent,
  SessionLocatedEvent,
  SessionRefusedEvent,
  SessionStartEvent,
  TerminationAppliedEvent,
} from "../../operator/api/audit/events.ts";
import type { AuditFlowKind } from "../../operator/api/audit/catalogue.ts";
import { FINDING_EVENTS } from "../../operator/api/audit/findings.ts";
import type { SessionFinding, SessionLocation } from "../../operator/api/protections/findings.ts";
import type { EndReason as RecordEndReason, SessionRecord } from "../sessions/record.ts";

interface Who {
  issuer: string;
  subject: string;
  email?: string | undefined;
  groups: readonly string[];
}

export function identityOf(who: Who): AuditIdentity {
  return { issuer: who.issuer, subject: who.subject, ...(who.email === undefined ? {} : { email: who.email }), groups: [...who.groups] };
}

export const END_REASON_OF_RECORD: Record<RecordEndReason, EndReason> = {
  idle: "IdleTimeout",
  absolute: "AbsoluteTimeout",
  terminated: "Terminated",
  protection: "BindingViolation",
};

/** A session protection's end (its stable code on the record): binding violations, or anomalies (travel, session limit). */
export function endReasonOf(record: { endReason?: RecordEndReason | undefined; endCode?: string | undefined }): EndReason {
  if (record.endReason === "protection" && (record.endCode === "SESSION_IMPOSSIBLE_TRAVEL" || record.endCode === "SESSION_LIMIT_EXCEEDED")) return "Anomaly";
  return END_REASON_OF_RECORD[record.endReason ?? "terminated"];
}

export function sessionStart(workload: AuditWorkload, record: SessionRecord, clientIP: string, now: number): SessionStartEvent {
  return {
    v: 1,
    event: "session.start",
    code: "VS001I",
    time: now,
    outcome: "success",
    workload,
    sessionId: record.id,
    cid: "",
    identity: identityOf(record),
    clientIP,
    ...(record.userAgent === "" ? {} : { userAgent: record.userAgent }),
    startTime: record.startedAt,
  };
}

export function sessionEnd(workload: AuditWorkload, sessionId: string, reason: EndReason, now: number, detail?: string): SessionEndEvent {
  return {
    v: 1,
    event: "session.end",
    code: "VS004I",
    time: now,
    outcome: "info",
    workload,
    sessionId,
    cid: "",
    reason,
    ...(detail === undefined ? {} : { detail }),
  };
}

export interface ActivityFacts {
  requests: number;
  clientIP: string;
  policy: string;
  rule: string;
  lastAt: number;
}

export function sessionActivity(workload: AuditWorkload, sessionId: string, who: Who, a: ActivityFacts): SessionActivityEvent {
  return {
    v: 1,
    event: "session.activity",
    code: "VS002I",
    time: a.lastAt,
    outcome: "success",
    workload,
    sessionId,
    cid: "",
    identity: identityOf(who),
    clientIP: a.clientIP,
    requests: a.requests,
    ...(a.policy === "" ? {} : { admittedBy: { policy: a.policy, rule: a.rule } }),
  };
}

/** A refusal as reported: from where, on which kind of flow, why, and how many times (folded). */
export interface RefusedFacts {
  clientIP: string;
  flowKind: AuditFlowKind;
  refusal: Refusal;
  count: number;
}

export function sessionRefused(workload: AuditWorkload, sessionId: string, who: Who, r: RefusedFacts, now: number): SessionRefusedEvent {
  return {
    v: 1,
    event: "session.refused",
    code: "VS003W",
    time: now,
    outcome: "failure",
    workload,
    sessionId,
    cid: "",
    identity: identityOf(who),
    clientIP: r.clientIP,
    flowKind: r.flowKind,
    refusal: r.refusal,
    count: r.count,
  };
}

export function accessRefused(workload: AuditWorkload, r: RefusedFacts, now: number): AccessRefusedEvent {
  return {
    v: 1,
    event: "access.refused",
    code: "VA001W",
    time: now,
    outcome: "failure",
    workload,
    clientIP: r.clientIP,
    flowKind: r.flowKind,
    refusal: r.refusal,
    count: r.count,
  };
}

export function flowOpen(workload: AuditWorkload, sessionId: string, flow: FlowFacts, now: number): FlowOpenEvent {
  return { v: 1, event: "flow.open", code: "VF001I", time: now, outcome: "success", workload, sessionId, cid: "", flow };
}

export function flowProgress(workload: AuditWorkload, sessionId: string, flow: FlowFacts, now: number): FlowProgressEvent {
  return { v: 1, event: "flow.progress", code: "VF002I", time: now, outcome: "info", workload, sessionId, cid: "", flow };
}

export function flowClose(workload: AuditWorkload, sessionId: string, flow: FlowFacts, reason: CloseReason, now: number): FlowCloseEvent {
  return {
    v: 1,
    event: "flow.close",
    code: "VF003I",
    time: now,
    outcome: "info",
    workload,
    sessionId,
    cid: "",
    flow,
    reason,
    durationMs: Math.max(0, now - flow.openedAt),
  };
}

export function terminationApplied(workload: AuditWorkload, termination: string, sessions: number, connections: number, now: number): TerminationAppliedEvent {
  return { v: 1, event: "termination.applied", code: "VT001I", time: now, outcome: "success", workload, termination, sessions, connections };
}

/** A session-protection finding: its own type and code (FINDING_EVENTS), `failure` when the request was refused. */
export function sessionFinding(workload: AuditWorkload, f: SessionFinding): SessionFindingEvent {
  const { event, code } = FINDING_EVENTS[f.code];
  return {
    v: 1,
    event,
    code,
    time: f.time,
    outcome: f.outcome === "refused" ? "failure" : "success",
    workload,
    sessionId: f.sessionId,
    cid: "",
    finding: { code: f.code, mode: f.mode, outcome: f.outcome, ...(f.policy === undefined ? {} : { policy: f.policy }), evidence: f.evidence },
  };
}

export function sessionLocated(workload: AuditWorkload, sessionId: string, location: SessionLocation, now: number): SessionLocatedEvent {
  return { v: 1, event: "session.located", code: "VS006I", time: now, outcome: "info", workload, sessionId, cid: "", location };
}
