/**
 * What an audit event does to the sessions index (pure): the one mapping from the audit schema to the index's
 * ingest API (operator/api/sessions/records.ts).
 *
 *   session.start     upsertSession (identity, client IP, user agent, start) + a recent event
 *   session.activity  upsertSession (last client IP, requests since the last report, admitting rule)
 *   session.refused   a recent event (decision code, policy, rule, how many)
 *   session.end       endSession (reason, detail) + a recent event
 *   flow.open         upsertFlow + a recent event;  flow.progress  upsertFlow (totals)
 *   flow.close        closeFlow (final totals, reason) + a recent event
 *   session.located   locate (where the session's client is now)
 *   protection.*      recordFinding (the finding with its evidence) + a recent event (the finding in one line)
 *   access.refused, termination.applied, audit.dropped   nothing (no session): "ignored"
 *
 * Returns "applied", "ignored", or "rejected" when the index refused the record (it counts why).
 */
import type {
  AuditEvent,
  AuditIdentity,
  FlowCloseEvent,
  FlowOpenEvent,
  FlowProgressEvent,
  SessionActivityEvent,
  SessionAuditEvent,
  SessionEndEvent,
  SessionFindingEvent,
  SessionRefusedEvent,
  SessionStartEvent,
} from "../api/audit/events.ts";
import { findingOfEvent, isFindingEvent } from "../api/audit/findings.ts";
import { describeFinding } from "../api/protections/describe.ts";
import type { SessionIdentity } from "../api/sessions/v1alpha1.ts";
import type { SessionEventSeen, SessionSeen } from "../api/sessions/records.ts";
import type { SessionIndex } from "../sessions-api/index/session-index.ts";

export type Applied = "applied" | "ignored" | "rejected";

type Ingest = Pick<SessionIndex, "upsertSession" | "upsertFlow" | "closeFlow" | "recordEvent" | "endSession" | "recordFinding" | "locate">;

export function applyAuditEvent(index: Ingest, e: AuditEvent): Applied {
  if (isFindingEvent(e)) return findingRecorded(index, e);
  switch (e.event) {
    case "session.start":
      return result(index.upsertSession(seenOf(e, 0)) && index.recordEvent(recent(e, "success")));
    case "session.activity":
      return result(index.upsertSession({ ...seenOf(e, e.requests), ...(e.admittedBy === undefined ? {} : { admittedBy: e.admittedBy }) }));
    case "session.refused":
      return result(index.recordEvent(recent(e, "failure", refusalText(e))));
    case "session.end":
      return sessionEnded(index, e);
    case "session.located":
      return result(index.locate({ sessionId: e.sessionId, time: e.time, location: e.location }));
    case "flow.open":
    case "flow.progress":
      return flowSeen(index, e);
    case "flow.close":
      return flowClosed(index, e);
    case "access.refused":
    case "termination.applied":
    case "audit.dropped":
      return "ignored";
  }
}

function seenOf(e: SessionStartEvent | SessionActivityEvent, requests: number): SessionSeen {
  const seen: SessionSeen = { sessionId: e.sessionId, identity: identityOf(e.identity), workload: e.workload, clientIP: e.clientIP, time: e.time, requests };
  if (e.event === "session.start") {
    seen.startTime = e.startTime;
    if (e.userAgent !== undefined) seen.userAgent = e.userAgent;
  }
  return seen;
}

function sessionEnded(index: Ingest, e: SessionEndEvent): Applied {
  const detail = e.detail === undefined ? {} : { detail: e.detail };
  return result(
    index.endSession({ sessionId: e.sessionId, time: e.time, reason: e.reason, ...detail }) &&
      index.recordEvent(recent(e, "info", e.detail === undefined ? e.reason : `${e.reason}: ${e.detail}`)),
  );
}

function findingRecorded(index: Ingest, e: SessionFindingEvent): Applied {
  return result(index.recordFinding(findingOfEvent(e)) && index.recordEvent(recent(e, e.outcome, describeFinding(e.finding))));
}

function refusalText(e: SessionRefusedEvent): string {
  const by = e.refusal.policy === undefined ? "" : ` by ${e.refusal.policy}${e.refusal.rule === undefined ? "" : `/${e.refusal.rule}`}`;
  return `${e.refusal.code}${by} (${e.flowKind}${e.count > 1 ? `, ${e.count} times` : ""})`;
}

function flowSeen(index: Ingest, e: FlowOpenEvent | FlowProgressEvent): Applied {
  const { flow } = e;
  const seen = index.upsertFlow({
    sessionId: e.sessionId,
    workload: e.workload,
    flowId: flow.id,
    kind: flow.kind,
    peer: flow.peer,
    port: flow.port,
    bytesIn: flow.bytesIn,
    bytesOut: flow.bytesOut,
    openedAt: flow.openedAt,
  });
  if (e.event === "flow.progress") return result(seen);
  return result(seen && index.recordEvent(recent(e, "success", `${flow.kind} to port ${flow.port}`)));
}

function flowClosed(index: Ingest, e: FlowCloseEvent): Applied {
  const { flow } = e;
  const closed = index.closeFlow({
    sessionId: e.sessionId,
    workload: e.workload,
    flowId: flow.id,
    bytesIn: flow.bytesIn,
    bytesOut: flow.bytesOut,
    closedAt: e.time,
    reason: e.reason,
  });
  return result(closed && index.recordEvent(recent(e, "info", `${flow.kind} ${e.reason}: ${flow.bytesIn} B in, ${flow.bytesOut} B out in ${e.durationMs} ms`)));
}

function recent(e: SessionAuditEvent, outcome: string, reason?: string): SessionEventSeen {
  return { sessionId: e.sessionId, workload: e.workload, time: e.time, type: e.event, code: e.code, outcome, ...(reason === undefined ? {} : { reason }) };
}

function identityOf(i: AuditIdentity): SessionIdentity {
  return { issuer: i.issuer, subject: i.subject, groups: i.groups, ...(i.email === undefined ? {} : { email: i.email }) };
}

function result(ok: boolean): Applied {
  return ok ? "applied" : "rejected";
}
