/**
 * Entries → API objects (pure). `renderSession` builds the `VigilSession` a namespace sees; `fieldsOf` the few
 * values field selectors match on (kept instead of whole objects wherever a previous state must be remembered).
 * The object's uid is derived from (namespace, session id), so every operator replica names it the same.
 */
import { createHash } from "node:crypto";
import { SESSIONS_API_VERSION, type SessionState, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { PartEntry, SessionEntry } from "./entries.ts";

const iso = (ms: number): string => new Date(ms).toISOString();

/** A stable UUID-shaped id for (namespace, session). */
export function uidFor(namespace: string, sessionId: string): string {
  const h = createHash("sha256").update(`${namespace}/${sessionId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export interface RenderOptions {
  /** The pods whose sidecars stopped heartbeating (`namespace/pod`). */
  isStalePod: (namespace: string, pod: string) => boolean;
  /** false: leave out the recent events (what a Table row or metadata needs is cheaper to build). Default true. */
  detail?: boolean;
}

export function renderSession(session: SessionEntry, part: PartEntry, opts: RenderOptions): VigilSession {
  const ns = part.namespace;
  const out: VigilSession = {
    apiVersion: SESSIONS_API_VERSION,
    kind: "VigilSession",
    metadata: { name: session.id, namespace: ns, uid: part.uid, resourceVersion: String(part.rv), creationTimestamp: iso(part.firstSeen) },
    identity: session.identity,
    state: part.state,
    stale: part.stale,
    firstIP: session.firstIP,
    lastIP: session.lastIP,
    startTime: iso(session.startTime),
    lastActivityTime: iso(part.lastSeen),
    requests: part.requests,
    workloads: part.workloads.map((w) => ({
      ...(w.kind === undefined ? {} : { kind: w.kind }),
      ...(w.name === undefined ? {} : { name: w.name }),
      pod: w.pod,
      firstSeen: iso(w.firstSeen),
      lastSeen: iso(w.lastSeen),
      ...(opts.isStalePod(ns, w.pod) && session.endTime === undefined ? { stale: true } : {}),
    })),
    flows: part.flows.map((f) => ({
      id: f.id,
      kind: f.kind,
      pod: f.pod,
      peer: f.peer,
      port: f.port,
      bytesIn: f.bytesIn,
      bytesOut: f.bytesOut,
      openedAt: iso(f.openedAt),
    })),
    closedFlows: { count: part.closedCount, bytesIn: part.closedBytesIn, bytesOut: part.closedBytesOut },
    recentEvents:
      opts.detail === false
        ? []
        : part.events.map((e) => ({
            time: iso(e.time),
            type: e.type,
            code: e.code,
            outcome: e.outcome,
            ...(e.reason === undefined ? {} : { reason: e.reason }),
            ...(e.pod === undefined ? {} : { pod: e.pod }),
          })),
    admittedBy: part.admittedBy,
    findings:
      opts.detail === false
        ? []
        : part.findings.map((f) => ({
            time: iso(f.time),
            code: f.code,
            mode: f.mode,
            outcome: f.outcome,
            pod: f.pod,
            ...(f.policy === undefined ? {} : { policy: f.policy }),
            evidence: f.evidence,
          })),
  };
  if (session.userAgent !== undefined) out.userAgent = session.userAgent;
  if (session.location !== undefined) out.location = session.location;
  if (session.endTime !== undefined) out.endTime = iso(session.endTime);
  if (session.endReason !== undefined) out.endReason = session.endDetail === undefined ? session.endReason : `${session.endReason}: ${session.endDetail}`;
  const t = part.termination;
  if (t?.sessionTermination !== undefined) out.terminationRequested = { sessionTermination: t.sessionTermination, user: t.user, time: iso(t.time) };
  return out;
}

/** What field selectors match on. Multi-valued fields match when any value does. */
export interface SelectableFields {
  name: string;
  namespace: string;
  subject: string;
  email: string;
  groups: readonly string[];
  /** Pod names and owning workload names of this namespace. */
  workloads: readonly string[];
  state: SessionState;
  stale: boolean;
  /** First and last client IP. */
  clientIPs: readonly string[];
}

export function fieldsOf(session: SessionEntry, part: PartEntry): SelectableFields {
  const workloads: string[] = [];
  for (const w of part.workloads) {
    workloads.push(w.pod);
    if (w.name !== undefined && !workloads.includes(w.name)) workloads.push(w.name);
  }
  return {
    name: session.id,
    namespace: part.namespace,
    subject: session.identity.subject,
    email: session.identity.email ?? "",
    groups: session.identity.groups,
    workloads,
    state: part.state,
    stale: part.stale,
    clientIPs: session.firstIP === session.lastIP ? [session.firstIP] : [session.firstIP, session.lastIP],
  };
}
