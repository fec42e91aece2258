/**
 * The log form of an audit event (pure): what goes to stdout as a JSON line through the logger, for the cluster's
 * log pipeline. Decided in docs/decisions/audit-0001-audit-stream.md and listed in docs/audit-events.md:
 *
 * - kept: `event`, `code`, `cid` (correlation id), `outcome`, `workload`, the event time, issuer, subject,
 *   `groupCount`, flow kind / port / bytes / duration / close reason, refusal code / policy / rule, end reason and
 *   detail, counts; of a protection finding its code, mode, action, policy, the kind of evidence and its numbers
 *   (travel distance / time / speeds, the names of the device components that changed, session counts);
 * - never logged: the session id, email, group names, client IP, peer address, user agent (personal data or a
 *   credential-like id: only in the encrypted stream), nor a finding's networks, device values, places,
 *   countries or the ids of the sessions it ended, nor a session's location.
 */
import type { FindingEvidence } from "../protections/findings.ts";
import type { AuditEvent, AuditIdentity, FlowFacts, SessionFindingEvent } from "./events.ts";
import { isFindingEvent } from "./findings.ts";

export type LogFields = Record<string, string | number | boolean>;

function identityFields(identity: AuditIdentity): LogFields {
  return { issuer: identity.issuer, subject: identity.subject, groupCount: identity.groups.length };
}

function flowFields(flow: FlowFacts): LogFields {
  return { flow: flow.id, flowKind: flow.kind, port: flow.port, bytesIn: flow.bytesIn, bytesOut: flow.bytesOut };
}

/** What every event's line has: type, code, outcome, workload, time, and the correlation id of a session's. */
function commonFields(e: AuditEvent): LogFields {
  const common: LogFields = {
    event: e.event,
    code: e.code,
    outcome: e.outcome,
    workload: `${e.workload.namespace}/${e.workload.pod}`,
    eventTime: new Date(e.time).toISOString(),
  };
  if ("cid" in e) common["cid"] = e.cid;
  return common;
}

export function auditLogFields(e: AuditEvent): LogFields {
  const common = commonFields(e);
  if (isFindingEvent(e)) return { ...common, ...findingFields(e) };
  switch (e.event) {
    case "session.start":
      return { ...common, ...identityFields(e.identity), startTime: new Date(e.startTime).toISOString() };
    case "session.activity":
      return { ...common, ...identityFields(e.identity), requests: e.requests, ...policyRule(e.admittedBy ?? {}) };
    case "session.refused":
      return {
        ...common,
        ...identityFields(e.identity),
        flowKind: e.flowKind,
        reason: e.refusal.code,
        status: e.refusal.status,
        count: e.count,
        ...policyRule(e.refusal),
      };
    case "session.end":
      return { ...common, reason: e.reason, ...(e.detail === undefined ? {} : { detail: e.detail }) };
    case "session.located":
      return common;
    case "flow.open":
    case "flow.progress":
      return { ...common, ...flowFields(e.flow) };
    case "flow.close":
      return { ...common, ...flowFields(e.flow), reason: e.reason, durationMs: e.durationMs };
    case "access.refused":
      return { ...common, flowKind: e.flowKind, reason: e.refusal.code, status: e.refusal.status, count: e.count };
    case "termination.applied":
      return { ...common, termination: e.termination, sessions: e.sessions, connections: e.connections };
    case "audit.dropped":
      return { ...common, dropped: e.dropped };
  }
}

function findingFields({ finding: f }: SessionFindingEvent): LogFields {
  return { finding: f.code, mode: f.mode, action: f.outcome, ...policyRule(f), evidence: f.evidence.kind, ...evidenceNumbers(f.evidence) };
}

/** What of the evidence is not personal: numbers and component names, never networks, values or places. */
function evidenceNumbers(e: FindingEvidence): LogFields {
  switch (e.kind) {
    case "travel":
      return {
        effectiveDistanceKm: Math.round(e.effectiveDistanceKm),
        elapsedSeconds: Math.round(e.elapsedSeconds),
        speedKmh: Math.round(e.speedKmh),
        maxSpeedKmh: e.maxSpeedKmh,
      };
    case "device":
      return { components: e.changed.map((c) => c.component).join(",") };
    case "limit":
      return { limit: e.limit, live: e.live, onExceed: e.onExceed, ended: e.ended.length };
    case "network":
      return { granularity: e.granularity };
    case "newCountry":
      return {};
  }
}

function policyRule(r: { policy?: string | undefined; rule?: string | undefined }): LogFields {
  const out: LogFields = {};
  if (r.policy !== undefined) out["policy"] = r.policy;
  if (r.rule !== undefined) out["rule"] = r.rule;
  return out;
}

/** The log message of an event: the catalogue's words, short. */
export function auditLogMessage(e: AuditEvent): string {
  return `audit ${e.event}`;
}
