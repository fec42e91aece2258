/**
 * The audit events kubectl-vigil and the console show and export, pure. One flat shape whatever the source:
 *
 *   - `session`: the recent audit events the sessions API carries on each VigilSession (reported by the sidecars);
 *   - `kubernetes`: Kubernetes Events about Vigil objects — what the console and `kubectl vigil` record when someone
 *     views a session or requests a termination (codes VC…, below), and what the operator reports on terminations.
 *
 * When the sessions API gains a dedicated audit resource, its items map to the same shape (one more adapter in
 * cli/kube/audit-source.ts); exports and filters stay as they are.
 */
import type { VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import { userOf } from "./sessions.ts";

export interface AuditEvent {
  /** RFC 3339. */
  time: string;
  /** Stable code (`VS…`, `VF…` from sidecars, `VC…` from the console and kubectl vigil), empty when the source has none. */
  code: string;
  /** Stable event type, e.g. `flow.opened`, `console.view`. */
  type: string;
  outcome: string;
  /** The person the event is about (the session's user). */
  user: string;
  /** Who acted, when someone did (the viewer, the requester of a termination). */
  actor: string;
  namespace: string;
  session: string;
  pod: string;
  reason: string;
  source: "session" | "kubernetes";
}

/** Codes of what the console and kubectl vigil record (docs/decisions/console-0003-audit-of-viewers.md). */
export const CONSOLE_CODES = {
  view: { code: "VC001I", type: "console.view", reason: "SessionViewed", action: "View" },
  terminate: { code: "VC002I", type: "console.terminate", reason: "TerminationRequested", action: "Terminate" },
} as const;

export function eventsOfSessions(sessions: readonly VigilSession[]): AuditEvent[] {
  return sessions.flatMap((s) =>
    s.recentEvents.map((e) => ({
      time: e.time,
      code: e.code,
      type: e.type,
      outcome: e.outcome,
      user: userOf(s),
      actor: "",
      namespace: s.metadata.namespace,
      session: s.metadata.name,
      pod: e.pod ?? "",
      reason: e.reason ?? "",
      source: "session" as const,
    })),
  );
}

/** A core/v1 Event, as much of it as the audit needs. */
export interface KubeEvent {
  metadata: { namespace?: string; annotations?: Record<string, string> };
  involvedObject: { kind?: string; name?: string; namespace?: string };
  reason?: string;
  message?: string;
  type?: string;
  eventTime?: string | null;
  lastTimestamp?: string | null;
  firstTimestamp?: string | null;
  metadataCreation?: string;
  reportingComponent?: string;
}

export const AUDIT_ANNOTATIONS = {
  code: "vigil.dev/audit-code",
  type: "vigil.dev/audit-type",
  actor: "vigil.dev/actor",
  user: "vigil.dev/session-user",
  session: "vigil.dev/session-id",
} as const;

const defaultType = (kind: string, reason: string | undefined): string =>
  `${kind === "SessionTermination" ? "termination" : "session"}.${(reason ?? "event").toLowerCase()}`;
const eventTime = (e: KubeEvent): string => e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? "";

function eventOfKubernetes(e: KubeEvent): AuditEvent {
  const a = e.metadata.annotations ?? {};
  const kind = e.involvedObject.kind ?? "";
  const sessionOfObject = kind === "VigilSession" ? (e.involvedObject.name ?? "") : "";
  return {
    time: eventTime(e),
    code: a[AUDIT_ANNOTATIONS.code] ?? "",
    type: a[AUDIT_ANNOTATIONS.type] ?? defaultType(kind, e.reason),
    outcome: e.type === "Warning" ? "failure" : "success",
    user: a[AUDIT_ANNOTATIONS.user] ?? "",
    actor: a[AUDIT_ANNOTATIONS.actor] ?? "",
    namespace: e.involvedObject.namespace ?? e.metadata.namespace ?? "",
    session: a[AUDIT_ANNOTATIONS.session] ?? sessionOfObject,
    pod: "",
    reason: e.message ?? "",
    source: "kubernetes",
  };
}

export const eventsOfKubernetes = (events: readonly KubeEvent[]): AuditEvent[] => events.map(eventOfKubernetes);

export interface AuditFilter {
  /** Epoch ms; events before are dropped. */
  since?: number;
  /** Matches the user or the actor (email or subject), case-insensitively. */
  user?: string;
  namespace?: string;
  session?: string;
  code?: string;
}

export function filterAudit(events: readonly AuditEvent[], f: AuditFilter): AuditEvent[] {
  const user = f.user?.toLowerCase();
  return events
    .filter((e) => f.since === undefined || Date.parse(e.time) >= f.since)
    .filter((e) => user === undefined || e.user.toLowerCase() === user || e.actor.toLowerCase() === user)
    .filter((e) => f.namespace === undefined || f.namespace === "" || e.namespace === f.namespace)
    .filter((e) => f.session === undefined || f.session === "" || e.session === f.session)
    .filter((e) => f.code === undefined || f.code === "" || e.code === f.code)
    .sort((a, b) => a.time.localeCompare(b.time));
}

export const AUDIT_CSV_COLUMNS: readonly (keyof AuditEvent)[] = [
  "time",
  "code",
  "type",
  "outcome",
  "user",
  "actor",
  "namespace",
  "session",
  "pod",
  "reason",
  "source",
];

/**
 * RFC 4180 CSV. A cell that a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a leading
 * apostrophe: names and reasons come from users and identity providers (OWASP CSV injection).
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function auditCsv(events: readonly AuditEvent[]): string {
  const lines = [AUDIT_CSV_COLUMNS.join(","), ...events.map((e) => AUDIT_CSV_COLUMNS.map((c) => csvCell(e[c])).join(","))];
  return lines.join("\r\n") + "\r\n";
}
