/**
 * The audit event (pure contract): one schema for every sidecar report, shared by the sidecar (which writes it to
 * stdout and, sealed, to the capped stream `P audit`), the operator (which reads the stream into the sessions
 * index) and anyone reading logs. Field by field in docs/audit-events.md; zod in schema.ts; codes in catalogue.ts.
 *
 * Every event carries `v`, `event` (type), `code`, `time` (epoch ms), `outcome`, and `workload` (the reporting
 * pod). Session-scoped events carry `sessionId` (the stream only; never logged) and `cid`, the correlation id: a
 * keyed hash of the session id (lib/correlation.ts) that is the same on every sidecar and cannot be reversed.
 * What is personal data (email, client IP, user agent, peer address) appears only in the encrypted stream; the log
 * form (log-form.ts) keeps issuer, subject and the number of groups.
 */
import type { SessionLocation } from "../protections/findings.ts";
import type { AuditFlowKind, CloseReason, EndReason, Outcome } from "./catalogue.ts";
import type { FindingEventCode, FindingEventType, FindingFacts } from "./findings.ts";

export interface AuditIdentity {
  issuer: string;
  subject: string;
  email?: string | undefined;
  groups: string[];
}

export interface AuditWorkload {
  namespace: string;
  pod: string;
  /** The pod's owning workload (`Deployment`/`web`) when the injection knew it. */
  kind?: string | undefined;
  name?: string | undefined;
}

interface Base {
  v: 1;
  time: number;
  outcome: Outcome;
  workload: AuditWorkload;
}

interface SessionScoped extends Base {
  sessionId: string;
  /** Correlation id (`c_` + 22 base64url): filled in by the reporter before the event leaves the process. */
  cid: string;
}

export interface SessionStartEvent extends SessionScoped {
  event: "session.start";
  code: "VS001I";
  identity: AuditIdentity;
  clientIP: string;
  userAgent?: string | undefined;
  /** When the session started (first sight anywhere). */
  startTime: number;
}

export interface SessionActivityEvent extends SessionScoped {
  event: "session.activity";
  code: "VS002I";
  identity: AuditIdentity;
  clientIP: string;
  /** Requests admitted since the previous report. */
  requests: number;
  /** The policy and rule that admitted the latest of them. */
  admittedBy?: { policy: string; rule: string } | undefined;
}

export interface Refusal {
  /** The decision or error code the client received (e.g. DENIED_BY_RULE, SESSION_REVOKED). */
  code: string;
  status: number;
  policy?: string | undefined;
  rule?: string | undefined;
}

export interface SessionRefusedEvent extends SessionScoped {
  event: "session.refused";
  code: "VS003W";
  identity: AuditIdentity;
  clientIP: string;
  flowKind: AuditFlowKind;
  refusal: Refusal;
  /** Identical refusals folded into this one (≥ 1). */
  count: number;
}

export interface SessionEndEvent extends SessionScoped {
  event: "session.end";
  code: "VS004I";
  reason: EndReason;
  /** E.g. `SessionTermination shop/end-alice`. */
  detail?: string | undefined;
}

export interface FlowFacts {
  /** Unique in this sidecar process. */
  id: string;
  kind: AuditFlowKind;
  /** Client address (`ip` or `ip:port`). */
  peer: string;
  /** Target port: the application's, or the tunnel's. */
  port: number;
  openedAt: number;
  /** Bytes from the client / to the client so far (socket counters). */
  bytesIn: number;
  bytesOut: number;
}

export interface FlowOpenEvent extends SessionScoped {
  event: "flow.open";
  code: "VF001I";
  flow: FlowFacts;
}

export interface FlowProgressEvent extends SessionScoped {
  event: "flow.progress";
  code: "VF002I";
  flow: FlowFacts;
}

export interface FlowCloseEvent extends SessionScoped {
  event: "flow.close";
  code: "VF003I";
  flow: FlowFacts;
  reason: CloseReason;
  durationMs: number;
}

export interface AccessRefusedEvent extends Base {
  event: "access.refused";
  code: "VA001W";
  clientIP: string;
  flowKind: AuditFlowKind;
  refusal: Refusal;
  count: number;
}

export interface TerminationAppliedEvent extends Base {
  event: "termination.applied";
  code: "VT001I";
  /** `<namespace>/<name>` of the SessionTermination. */
  termination: string;
  sessions: number;
  connections: number;
}

export interface AuditDroppedEvent extends Base {
  event: "audit.dropped";
  code: "VS005W";
  dropped: number;
}

/** The session's client address was geolocated (first sight, or a new address): where it is now. */
export interface SessionLocatedEvent extends SessionScoped {
  event: "session.located";
  code: "VS006I";
  location: SessionLocation;
}

/** A session-protection finding (findings.ts: the type and code follow `finding.code`). */
export interface SessionFindingEvent extends SessionScoped {
  event: FindingEventType;
  code: FindingEventCode;
  finding: FindingFacts;
}

export type SessionAuditEvent =
  | SessionStartEvent
  | SessionActivityEvent
  | SessionRefusedEvent
  | SessionEndEvent
  | SessionLocatedEvent
  | SessionFindingEvent
  | FlowOpenEvent
  | FlowProgressEvent
  | FlowCloseEvent;
export type AuditEvent = SessionAuditEvent | AccessRefusedEvent | TerminationAppliedEvent | AuditDroppedEvent;

/** What a sealed stream entry holds: one flush of one sidecar. */
export interface AuditBatch {
  v: 1;
  events: AuditEvent[];
}

/** `SessionTermination <namespace>/<name>` from a revocation id `<namespace>/<name>/<uid>`. */
export function terminationOfRevocation(revocationId: string): string {
  const parts = revocationId.split("/");
  return parts.length >= 2 ? `${parts[0] ?? ""}/${parts[1] ?? ""}` : revocationId;
}
