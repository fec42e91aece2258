/**
 * The audit event catalogue of the whole product (pure contract): every event type with its stable code, in
 * Teleport's `event` + `code` model. A code is two letters of family, three digits and a severity letter
 * (`I` info, `W` warning, `E` error); a code never changes meaning and is never reused. Documented in
 * docs/audit-events.md (a unit test keeps the two in step).
 *
 * Families: `VS` sessions and `VF` flows (reported by sidecars), `VA` access refused before a session is known,
 * `VT` a termination applied on a sidecar, `VP` session-protection findings (one type per finding code,
 * findings.ts), `VO` operator events. Operator events that are also Kubernetes Events
 * name the Event reason (`k8sReason`): the Event's note starts with the same code, so `kubectl describe` and the
 * logs say the same thing with the same words.
 */

export interface CatalogueEntry {
  code: string;
  /** Who emits it. */
  source: "sidecar" | "operator";
  /** The Kubernetes Event reason recorded for the same outcome (operator events only). */
  k8sReason?: string;
  summary: string;
}

export const AUDIT_CATALOGUE = {
  "session.start": { code: "VS001I", source: "sidecar", summary: "a session was first seen on this workload (sidecar)" },
  "session.activity": {
    code: "VS002I",
    source: "sidecar",
    summary: "throttled activity of a session: requests since the last report, last client IP, admitting rule",
  },
  "session.refused": { code: "VS003W", source: "sidecar", summary: "a request or new flow of a known session was refused (decision code, policy, rule)" },
  "session.end": { code: "VS004I", source: "sidecar", summary: "the session ended (idle, absolute, terminated by a SessionTermination, …)" },
  "flow.open": { code: "VF001I", source: "sidecar", summary: "a long-lived flow opened (HTTP keep-alive, streaming response, WebSocket, CONNECT tunnel)" },
  "flow.progress": { code: "VF002I", source: "sidecar", summary: "throttled byte counters of a live flow" },
  "flow.close": { code: "VF003I", source: "sidecar", summary: "a long-lived flow closed: bytes, duration, close reason" },
  "access.refused": { code: "VA001W", source: "sidecar", summary: "requests refused before any session was known (no or bad credential), counted per code" },
  "termination.applied": { code: "VT001I", source: "sidecar", summary: "a sidecar applied a termination: sessions ended, connections reset" },
  "audit.dropped": { code: "VS005W", source: "sidecar", summary: "audit events dropped under pressure (the bounded queue was full)" },
  "session.located": { code: "VS006I", source: "sidecar", summary: "the session's client address was geolocated (first sight, or a new address)" },
  "protection.network_changed": {
    code: "VP001W",
    source: "sidecar",
    summary: "SESSION_NETWORK_CHANGED: a request came from outside the network the session started from (both networks)",
  },
  "protection.device_changed": {
    code: "VP002W",
    source: "sidecar",
    summary: "SESSION_DEVICE_CHANGED: the device changed (each component, before and after)",
  },
  "protection.impossible_travel": {
    code: "VP003W",
    source: "sidecar",
    summary: "SESSION_IMPOSSIBLE_TRAVEL: the identity moved faster than a person can travel (both places, distance, time, speed)",
  },
  "protection.new_country": { code: "VP004I", source: "sidecar", summary: "SESSION_NEW_COUNTRY: first sighting of the identity from a country" },
  "protection.limit_exceeded": {
    code: "VP005W",
    source: "sidecar",
    summary: "SESSION_LIMIT_EXCEEDED: more live sessions than the policy allows (limit, live, what was ended)",
  },
  "termination.published": {
    code: "VO001I",
    source: "operator",
    k8sReason: "Published",
    summary: "a SessionTermination's revocation was published on the bus",
  },
  "termination.completed": { code: "VO002I", source: "operator", k8sReason: "Completed", summary: "every expected sidecar acknowledged a SessionTermination" },
  "termination.failed": { code: "VO003W", source: "operator", k8sReason: "Failed", summary: "a SessionTermination timed out waiting for sidecars" },
  "termination.invalid_target": { code: "VO004W", source: "operator", k8sReason: "InvalidTarget", summary: "a SessionTermination's target cannot be resolved" },
  "policy.published": { code: "VO010I", source: "operator", k8sReason: "Published", summary: "an AccessPolicy generation was published on the bus" },
  "policy.rejected": { code: "VO011W", source: "operator", k8sReason: "Rejected", summary: "an AccessPolicy was not accepted (problems listed)" },
  "bus.unavailable": { code: "VO020E", source: "operator", k8sReason: "BusUnavailable", summary: "the policy bus (Redis) could not be written" },
  "bus.rebuilt": { code: "VO021W", source: "operator", k8sReason: "BusRebuilt", summary: "the policy bus was rebuilt as a new epoch" },
  "audit.refused": { code: "VO030W", source: "operator", summary: "an entry of the audit stream was refused (malformed, undecryptable, invalid, replayed)" },
} as const satisfies Record<string, CatalogueEntry>;

export type AuditEventType = keyof typeof AUDIT_CATALOGUE;
/** Operator events that are also Kubernetes Events (they name a `k8sReason`). */
export type OperatorEventType = { [K in AuditEventType]: (typeof AUDIT_CATALOGUE)[K] extends { k8sReason: string } ? K : never }[AuditEventType];

/** Why a session ended (docs/audit-events.md; `PolicyChanged` and `Revoked` are reserved). */
export const END_REASONS = ["IdleTimeout", "AbsoluteTimeout", "Terminated", "PolicyChanged", "BindingViolation", "Revoked", "Anomaly"] as const;
export type EndReason = (typeof END_REASONS)[number];

/** Why a flow closed. */
export const CLOSE_REASONS = ["Closed", "Error", "Terminated", "PolicyChanged", "IdleTimeout", "AbsoluteTimeout", "Shutdown", "Rebound"] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Kinds of flows (the sessions API's FLOW_KINDS). */
export const AUDIT_FLOW_KINDS = ["http", "stream", "websocket", "tunnel"] as const;
export type AuditFlowKind = (typeof AUDIT_FLOW_KINDS)[number];

export type Outcome = "success" | "failure" | "info";

/** Codes of refused audit-stream entries (operator ingest), the `code` label of its metric. */
export const AUDIT_ENTRY_REFUSALS = [
  "AUDIT_ENTRY_MALFORMED",
  "AUDIT_ENTRY_UNDECRYPTABLE",
  "AUDIT_ENTRY_INVALID",
  "AUDIT_ENTRY_REPLAYED",
  "AUDIT_ENTRY_FOREIGN",
] as const;
export type AuditEntryRefusal = (typeof AUDIT_ENTRY_REFUSALS)[number];
