/**
 * Session-protection findings as audit events (pure contract): one event type and code per finding code, so the
 * trail can be filtered by what was found (`kubectl vigil audit --code VP003W`), and the one mapping between a
 * finding (operator/api/protections/findings.ts) and its event, used by the sidecar that reports it and the
 * operator that folds it into the session.
 *
 * The event keeps the finding's mode, what the sidecar did (`finding.outcome`: `recorded` or `refused`) and its
 * evidence — all of it personal data at most (networks, device components, places), so it travels only in the
 * sealed stream; the log form (log-form.ts) keeps the codes, the mode and the evidence's numbers. The event's
 * `outcome` says the same in the audit vocabulary: `success` when the request went through, `failure` when it was
 * refused and the session ended.
 */
import type { AuditEvent, AuditWorkload, SessionFindingEvent } from "./events.ts";
import type { FindingCode, SessionFinding } from "../protections/findings.ts";

export const FINDING_EVENTS = {
  SESSION_NETWORK_CHANGED: { event: "protection.network_changed", code: "VP001W" },
  SESSION_DEVICE_CHANGED: { event: "protection.device_changed", code: "VP002W" },
  SESSION_IMPOSSIBLE_TRAVEL: { event: "protection.impossible_travel", code: "VP003W" },
  SESSION_NEW_COUNTRY: { event: "protection.new_country", code: "VP004I" },
  SESSION_LIMIT_EXCEEDED: { event: "protection.limit_exceeded", code: "VP005W" },
} as const satisfies Record<FindingCode, { event: string; code: string }>;

export type FindingEventType = (typeof FINDING_EVENTS)[FindingCode]["event"];
export type FindingEventCode = (typeof FINDING_EVENTS)[FindingCode]["code"];

/** What the event says about the finding (the rest of a SessionFinding is the event's own session, workload, time). */
export type FindingFacts = Pick<SessionFinding, "code" | "mode" | "outcome" | "evidence"> & { policy?: string | undefined };

/** The finding an event carries, in the sessions API's shape. */
export function findingOfEvent(e: { sessionId: string; workload: AuditWorkload; time: number; finding: FindingFacts }): SessionFinding {
  const { code, mode, outcome, policy, evidence } = e.finding;
  return {
    v: 1,
    code,
    sessionId: e.sessionId,
    namespace: e.workload.namespace,
    pod: e.workload.pod,
    time: e.time,
    mode,
    outcome,
    ...(policy === undefined ? {} : { policy }),
    evidence,
  };
}

export function isFindingEvent(e: AuditEvent): e is SessionFindingEvent {
  return e.event.startsWith("protection.");
}
