/**
 * `sessions.vigil.dev/v1alpha1` — sessions as a Kubernetes API, served by vigil-operator through the aggregation
 * layer (never stored in etcd). Pure types and constants: this is contract, shared by the operator's sessions API,
 * the console and `kubectl vigil`.
 *
 * A `VigilSession` is one login of one identity, as seen from ONE namespace: it exists in every namespace whose
 * workloads the session touched, named by the session id (`s_…`), carrying the session-wide facts (identity, client,
 * times, end) and that namespace's part only (workloads, live flows, recent events, the policies that admitted it).
 * It is read-only (get, list, watch); `delete` asks for the session's termination (a SessionTermination). There is
 * no spec and no status: like metrics.k8s.io's PodMetrics, the object is an observation.
 */
import type { FindingEvidence, SessionFinding, SessionLocation } from "../protections/findings.ts";
import type { ObjectMeta } from "../v1alpha1/meta.ts";

export const SESSIONS_GROUP = "sessions.vigil.dev";
export const SESSIONS_VERSION = "v1alpha1";
export const SESSIONS_API_VERSION = `${SESSIONS_GROUP}/${SESSIONS_VERSION}`;
/** Name of the APIService that registers the group-version with the aggregator. */
export const SESSIONS_API_SERVICE = `${SESSIONS_VERSION}.${SESSIONS_GROUP}`;

export const VIGIL_SESSION = {
  kind: "VigilSession",
  listKind: "VigilSessionList",
  plural: "vigilsessions",
  singular: "vigilsession",
  shortNames: ["vs"],
  categories: ["vigil"],
  verbs: ["delete", "get", "list", "watch"],
} as const;

/** `s_` + 22 base64url characters (128 bits): the session id, and the object's name. */
export const SESSION_ID_PATTERN = /^s_[A-Za-z0-9_-]{22}$/;

export type SessionState = "Active" | "Idle" | "Ended";
export const SESSION_STATES: readonly SessionState[] = ["Active", "Idle", "Ended"];

export type FlowKind = "http" | "websocket" | "tunnel" | "stream";
export const FLOW_KINDS: readonly FlowKind[] = ["http", "websocket", "tunnel", "stream"];

/** Who the session belongs to, as verified from the token; `claims` are the extra claims policies matched on. */
export interface SessionIdentity {
  issuer: string;
  subject: string;
  email?: string;
  groups: string[];
  claims?: Record<string, string | string[]>;
}

/** A workload (pod) of this namespace the session reached. */
export interface SessionWorkload {
  /** Owning workload when known (e.g. `Deployment`/`web`). */
  kind?: string;
  name?: string;
  pod: string;
  firstSeen: string;
  lastSeen: string;
  /** The pod's sidecar stopped heartbeating: what is shown for it may be out of date. */
  stale?: boolean;
}

/** A long-lived flow open right now (HTTP keep-alive, streaming response, WebSocket, CONNECT tunnel). */
export interface SessionFlow {
  id: string;
  kind: FlowKind;
  pod: string;
  /** Client address (`ip:port`). */
  peer: string;
  /** Target port (the app's port, or the tunnel's). */
  port: number;
  bytesIn: number;
  bytesOut: number;
  openedAt: string;
}

/** One of the session's recent audit events in this namespace (the newest last). */
export interface SessionEvent {
  time: string;
  type: string;
  code: string;
  outcome: string;
  reason?: string;
  pod?: string;
}

export interface SessionAdmission {
  policy: string;
  rule: string;
}

/** A session-protection finding on this namespace's workloads (evidence as found; place times in epoch ms). */
export interface SessionFindingView {
  time: string;
  code: SessionFinding["code"];
  mode: SessionFinding["mode"];
  outcome: SessionFinding["outcome"];
  pod: string;
  policy?: string;
  evidence: FindingEvidence;
}

export interface VigilSession {
  apiVersion: typeof SESSIONS_API_VERSION;
  kind: "VigilSession";
  /** name = session id; namespace = one namespace the session touched; creationTimestamp = first seen there. */
  metadata: Required<Pick<ObjectMeta, "name" | "namespace" | "uid" | "resourceVersion" | "creationTimestamp">>;
  identity: SessionIdentity;
  state: SessionState;
  /** A sidecar that reported this session here stopped heartbeating: the state shown may be out of date. */
  stale: boolean;
  firstIP: string;
  lastIP: string;
  userAgent?: string;
  /** Where the last client address is (country, city, autonomous system), when the sidecars geolocate. */
  location?: SessionLocation;
  startTime: string;
  lastActivityTime: string;
  endTime?: string;
  endReason?: string;
  /** Requests this namespace's workloads served for the session. */
  requests: number;
  workloads: SessionWorkload[];
  flows: SessionFlow[];
  /** Flows already closed in this namespace: how many, and their bytes. */
  closedFlows: { count: number; bytesIn: number; bytesOut: number };
  recentEvents: SessionEvent[];
  admittedBy: SessionAdmission[];
  /** Session-protection findings here (network, device, travel, new country, session limit), the newest last. */
  findings: SessionFindingView[];
  /** Set once someone deleted this VigilSession: the SessionTermination that carries it out, and who asked. */
  terminationRequested?: { sessionTermination: string; user: string; time: string };
}

/** @public The list kind clients receive (`kind: VigilSessionList`). */
export interface VigilSessionList {
  apiVersion: typeof SESSIONS_API_VERSION;
  kind: "VigilSessionList";
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: VigilSession[];
}
