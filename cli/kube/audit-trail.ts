/**
 * Writing and reading the audit trail through the Kubernetes API, with the user's own credentials.
 *
 * Writing: a view of a session and a termination request become core/v1 Events in the session's namespace,
 * about the VigilSession (or the SessionTermination), carrying the code, the viewer's identity (from
 * SelfSubjectReview, so it is the identity the API server authenticated) and the session's user in annotations
 * (docs/decisions/console-0003-audit-of-viewers.md). The API server's own audit log records the same requests.
 *
 * Reading (`AuditSource`): the sessions' recent events plus those Events. A dedicated audit resource of the
 * sessions API, when it exists, is one more source of the same shape.
 */
import { SESSIONS_API_VERSION, VIGIL_SESSION, type VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import { API_VERSION, SESSION_TERMINATION } from "../../operator/api/v1alpha1/group.ts";
import { AUDIT_ANNOTATIONS, CONSOLE_CODES, eventsOfKubernetes, eventsOfSessions, type AuditEvent, type KubeEvent } from "../core/audit.ts";
import type { Kube } from "./client.ts";
import { ApiError } from "./errors.ts";
import { listAll, sessionsPath, type Identity, type Scope } from "./resources.ts";

export interface AuditRecord {
  what: keyof typeof CONSOLE_CODES;
  namespace: string;
  sessionId?: string;
  /** The session's user (email or subject), when known. */
  sessionUser?: string;
  actor: Identity;
  /** `console` or `kubectl-vigil`. */
  client: string;
  /** The SessionTermination a `terminate` created. */
  termination?: string;
  message: string;
}

/** Without control characters (a user name or reason goes into an Event), at most `max` characters. */
function clean(text: string, max: number): string {
  let out = "";
  for (const ch of text.slice(0, max)) out += ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? "?" : ch;
  return out;
}

export function auditEventObject(r: AuditRecord, now: Date): Record<string, unknown> {
  const code = CONSOLE_CODES[r.what];
  const involved =
    r.sessionId !== undefined
      ? { apiVersion: SESSIONS_API_VERSION, kind: VIGIL_SESSION.kind, namespace: r.namespace, name: r.sessionId }
      : { apiVersion: API_VERSION, kind: SESSION_TERMINATION.kind, namespace: r.namespace, name: r.termination ?? "" };
  const time = now.toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      generateName: `vigil-${r.client}-`,
      namespace: r.namespace,
      annotations: {
        [AUDIT_ANNOTATIONS.code]: code.code,
        [AUDIT_ANNOTATIONS.type]: code.type,
        [AUDIT_ANNOTATIONS.actor]: clean(r.actor.username, 1024),
        ...(r.sessionUser === undefined ? {} : { [AUDIT_ANNOTATIONS.user]: clean(r.sessionUser, 1024) }),
        ...(r.sessionId === undefined ? {} : { [AUDIT_ANNOTATIONS.session]: r.sessionId }),
      },
    },
    involvedObject: involved,
    ...(r.termination === undefined || r.sessionId === undefined
      ? {}
      : { related: { apiVersion: API_VERSION, kind: SESSION_TERMINATION.kind, namespace: r.namespace, name: r.termination } }),
    reason: code.reason,
    action: code.action,
    message: clean(r.message, 1000),
    type: "Normal",
    source: { component: `vigil-${r.client}` },
    reportingComponent: `vigil.dev/${r.client}`,
    reportingInstance: clean(r.actor.username, 128),
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}

/** Records the event; returns the API server's refusal instead of throwing (the caller shows it). */
export async function recordAudit(kube: Kube, r: AuditRecord): Promise<ApiError | undefined> {
  try {
    await kube.json({ method: "POST", path: `/api/v1/namespaces/${encodeURIComponent(r.namespace)}/events`, body: auditEventObject(r, new Date()) });
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

export interface AuditSource {
  read(scope: Scope): Promise<AuditEvent[]>;
}

const eventsPath = (scope: Scope): string => (scope === null ? "/api/v1/events" : `/api/v1/namespaces/${encodeURIComponent(scope)}/events`);

/** Events about Vigil objects (VigilSessions, SessionTerminations) in scope. */
export async function vigilEvents(kube: Kube, scope: Scope, fieldSelector = ""): Promise<AuditEvent[]> {
  const out: KubeEvent[] = [];
  for (const kind of [VIGIL_SESSION.kind, SESSION_TERMINATION.kind]) {
    const selector = [`involvedObject.kind=${kind}`, fieldSelector].filter((s) => s !== "").join(",");
    out.push(...(await listAll<KubeEvent>(kube, eventsPath(scope), { fieldSelector: selector })).items);
  }
  return eventsOfKubernetes(out);
}

/** Today's source: what the sessions API carries on each session, and the Events about Vigil objects. */
export function sessionsAndEventsSource(kube: Kube): AuditSource {
  return {
    async read(scope) {
      const sessions = await listAll<VigilSession>(kube, sessionsPath(scope));
      return [...eventsOfSessions(sessions.items), ...(await vigilEvents(kube, scope))];
    },
  };
}
