/**
 * The log form of an audit event (pure): what goes to stdout as a JSON line through the logger, for the cluster's
 * log pipeline. Decided in docs/decisions/audit-0001-audit-stream.md and listed in docs/audit-events.md:
 *
 * - kept: `event`, `code`, `cid` (correlation id), `outcome`, `workload`, the event time, issuer, subject,
 *   `groupCount`, flow kind / port / bytes / duration / close reason, refusal code / policy / rule, end reason and
 *   detail, counts;
 * - never logged: the session id, email, group names, client IP, peer address, user agent (personal data or a
 *   credential-like id: only in the encrypted stream).
 */
import type { AuditEvent, AuditIdentity, FlowFacts } from "./events.ts";

export type LogFields = Record<string, string | number | boolean>;

function identityFields(identity: AuditIdentity): LogFields {
  return { issuer: identity.issuer, subject: identity.subject, groupCount: identity.groups.length };
}

function flowFields(flow: FlowFacts): LogFields {
  return { flow: flow.id, flowKind: flow.kind, port: flow.port, bytesIn: flow.bytesIn, bytesOut: flow.bytesOut };
}

export function auditLogFields(e: AuditEvent): LogFields {
  const common: LogFields = {
    event: e.event,
    code: e.code,
    outcome: e.outcome,
    workload: `${e.workload.namespace}/${e.workload.pod}`,
    eventTime: new Date(e.time).toISOString(),
  };
  if ("cid" in e) common["cid"] = e.cid;
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
