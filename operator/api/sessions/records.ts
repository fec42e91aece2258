/**
 * What feeds the sessions index: the records a sidecar reports about its sessions (through the encrypted audit
 * stream), in the shape `SessionIndex` ingests them. Pure types: contract between whoever reads the stream and the
 * index (operator/sessions-api/index/session-index.ts). Times are epoch milliseconds.
 *
 *   index.upsertSession(SessionSeen)    a session first seen on a workload, or active again there
 *   index.upsertFlow(FlowSeen)          a long-lived flow opened, or its byte counters moved
 *   index.closeFlow(FlowClosed)         that flow closed
 *   index.recordEvent(SessionEventSeen) an audit event of the session (refusal, flow, termination …)
 *   index.endSession(SessionEnded)      the session ended (idle, absolute, terminated, policy change …)
 *   index.recordFinding(SessionFinding) a session-protection finding (operator/api/protections/findings.ts)
 *   index.locate(SessionLocated)        the session's client address was geolocated
 *   index.markSidecarStale(PodRef) / markSidecarLive(PodRef)   a sidecar stopped / resumed heartbeating
 *
 * Every ingest call validates its record and returns false (counted, never thrown) for one it cannot use.
 */
import type { SessionLocation } from "../protections/findings.ts";
import type { FlowKind, SessionAdmission, SessionIdentity } from "./v1alpha1.ts";

/** A pod (and the workload owning it, when the sidecar knows) that reports sessions. */
export interface WorkloadRef {
  namespace: string;
  pod: string;
  /** e.g. `Deployment`. */
  kind?: string | undefined;
  /** e.g. `web`. */
  name?: string | undefined;
}

export type PodRef = Pick<WorkloadRef, "namespace" | "pod">;

export interface SessionSeen {
  sessionId: string;
  identity: SessionIdentity;
  workload: WorkloadRef;
  /** Client IP of this observation (the session's last IP from now on). */
  clientIP: string;
  userAgent?: string;
  /** When this observation happened (last activity). */
  time: number;
  /** When the session started (first sight anywhere); default: `time` of its first record. */
  startTime?: number;
  /** The rule that admitted the session's requests here. */
  admittedBy?: SessionAdmission;
  /** Requests served since the previous report (added up). */
  requests?: number;
}

export interface FlowSeen {
  sessionId: string;
  workload: PodRef;
  /** Unique per sidecar (e.g. a counter); (pod, flowId) names the flow. */
  flowId: string;
  kind: FlowKind;
  peer: string;
  port: number;
  /** Totals so far (not increments). */
  bytesIn: number;
  bytesOut: number;
  openedAt: number;
}

export interface FlowClosed {
  sessionId: string;
  workload: PodRef;
  flowId: string;
  /** Final totals. */
  bytesIn: number;
  bytesOut: number;
  closedAt: number;
  reason?: string;
}

export interface SessionEventSeen {
  sessionId: string;
  /** The workload the event happened on; absent for session-wide events (shown in every namespace). */
  workload?: PodRef;
  time: number;
  /** Stable event type, e.g. `session.refused`. */
  type: string;
  /** Stable code, e.g. `VS003W`. */
  code: string;
  outcome: string;
  reason?: string;
}

export interface SessionEnded {
  sessionId: string;
  time: number;
  /** e.g. `IdleTimeout`, `AbsoluteTimeout`, `Terminated`, `PolicyChanged`. */
  reason: string;
  /** Free text, e.g. which SessionTermination. */
  detail?: string;
}

/** The session's client address was geolocated (first sight, or a new address). */
export interface SessionLocated {
  sessionId: string;
  time: number;
  location: SessionLocation;
}
