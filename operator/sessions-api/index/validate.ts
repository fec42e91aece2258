/**
 * Gate for every record the index ingests (pure). A record that fails is refused with a short reason (counted by
 * the index); strings are bounded so that no reporter can make the index grow without limit, and over-long
 * optional text is cut rather than refused. Returns a normalised copy holding only the fields the index keeps.
 */
import { isIP } from "node:net";
import type { FlowClosed, FlowSeen, PodRef, SessionEnded, SessionEventSeen, SessionLocated, SessionSeen, WorkloadRef } from "../../api/sessions/records.ts";
import type { SessionFinding } from "../../api/protections/findings.ts";
import { sessionFindingSchema, sessionLocationSchema } from "../../api/protections/schema.ts";
import { FLOW_KINDS, SESSION_ID_PATTERN, type SessionAdmission, type SessionIdentity } from "../../api/sessions/v1alpha1.ts";

export const LIMITS = {
  text: 256,
  issuer: 512,
  email: 320,
  userAgent: 512,
  groups: 64,
  claims: 16,
  claimValues: 16,
  reason: 1024,
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TOKEN = /^[A-Za-z0-9._:/@+-]{1,128}$/;

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

class Refused extends Error {}

const fail = (reason: string): never => {
  throw new Refused(reason);
};

function attempt<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== "string" || v === "") return fail(`${field} must be a non-empty string`);
  if (v.length > max) return fail(`${field} is longer than ${max}`);
  return v;
}

function optText(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") return fail(`${field} must be a string`);
  return v.length > max ? v.slice(0, max) : v;
}

function time(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) return fail(`${field} must be epoch milliseconds`);
  return Math.floor(v);
}

function count(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return fail(`${field} must be a number ≥ 0`);
  return Math.floor(v);
}

function sessionId(v: unknown): string {
  if (typeof v !== "string" || !SESSION_ID_PATTERN.test(v)) return fail("sessionId is not a session id (s_ + 22 base64url)");
  return v;
}

function ip(v: unknown, field: string): string {
  if (typeof v !== "string" || isIP(v) === 0) return fail(`${field} must be an IP address`);
  return v;
}

export function checkPod(v: unknown): PodRef {
  if (!isRecord(v)) return fail("workload is missing");
  if (typeof v["namespace"] !== "string" || !DNS_LABEL.test(v["namespace"])) return fail("workload.namespace must be a namespace name");
  if (typeof v["pod"] !== "string" || !DNS_SUBDOMAIN.test(v["pod"])) return fail("workload.pod must be a pod name");
  return { namespace: v["namespace"], pod: v["pod"] };
}

function workload(v: unknown): WorkloadRef {
  const pod = checkPod(v);
  const rec = v as Record<string, unknown>;
  const kind = optText(rec["kind"], "workload.kind", 63);
  const name = optText(rec["name"], "workload.name", 253);
  return { ...pod, ...(kind === undefined ? {} : { kind }), ...(name === undefined ? {} : { name }) };
}

function identity(v: unknown): SessionIdentity {
  if (!isRecord(v)) return fail("identity is missing");
  const groupsRaw = v["groups"] ?? [];
  if (!Array.isArray(groupsRaw)) return fail("identity.groups must be a list");
  const groups = groupsRaw.slice(0, LIMITS.groups).map((g, i) => str(g, `identity.groups[${i}]`, LIMITS.text));
  const email = optText(v["email"], "identity.email", LIMITS.email);
  const out: SessionIdentity = {
    issuer: str(v["issuer"], "identity.issuer", LIMITS.issuer),
    subject: str(v["subject"], "identity.subject", LIMITS.text),
    groups,
  };
  if (email !== undefined) out.email = email.toLowerCase();
  const claims = claimsOf(v["claims"]);
  if (claims !== undefined) out.claims = claims;
  return out;
}

function claimsOf(v: unknown): Record<string, string | string[]> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return fail("identity.claims must be a map");
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(v).slice(0, LIMITS.claims)) {
    if (!TOKEN.test(key)) return fail("identity.claims has a bad key");
    if (typeof value === "string") out[key] = value.slice(0, LIMITS.text);
    else if (Array.isArray(value)) out[key] = value.slice(0, LIMITS.claimValues).map((x) => String(x).slice(0, LIMITS.text));
    else out[key] = String(value).slice(0, LIMITS.text);
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function admission(v: unknown): SessionAdmission | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return fail("admittedBy must be {policy, rule}");
  return { policy: str(v["policy"], "admittedBy.policy", 253), rule: str(v["rule"], "admittedBy.rule", LIMITS.text) };
}

export function checkSessionSeen(v: unknown): Checked<SessionSeen> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const out: SessionSeen = {
      sessionId: sessionId(v["sessionId"]),
      identity: identity(v["identity"]),
      workload: workload(v["workload"]),
      clientIP: ip(v["clientIP"], "clientIP"),
      time: time(v["time"], "time"),
    };
    const ua = optText(v["userAgent"], "userAgent", LIMITS.userAgent);
    if (ua !== undefined) out.userAgent = ua;
    if (v["startTime"] !== undefined) out.startTime = time(v["startTime"], "startTime");
    const admitted = admission(v["admittedBy"]);
    if (admitted !== undefined) out.admittedBy = admitted;
    if (v["requests"] !== undefined) out.requests = count(v["requests"], "requests");
    return out;
  });
}

export function checkFlowSeen(v: unknown): Checked<FlowSeen> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const kind = v["kind"];
    if (typeof kind !== "string" || !(FLOW_KINDS as readonly string[]).includes(kind)) return fail(`kind must be one of ${FLOW_KINDS.join(", ")}`);
    const port = v["port"];
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) return fail("port must be 0–65535");
    return {
      sessionId: sessionId(v["sessionId"]),
      workload: checkPod(v["workload"]),
      flowId: str(v["flowId"], "flowId", 64),
      kind: kind as FlowSeen["kind"],
      peer: str(v["peer"], "peer", 64),
      port,
      bytesIn: count(v["bytesIn"], "bytesIn"),
      bytesOut: count(v["bytesOut"], "bytesOut"),
      openedAt: time(v["openedAt"], "openedAt"),
    };
  });
}

export function checkFlowClosed(v: unknown): Checked<FlowClosed> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const out: FlowClosed = {
      sessionId: sessionId(v["sessionId"]),
      workload: checkPod(v["workload"]),
      flowId: str(v["flowId"], "flowId", 64),
      bytesIn: count(v["bytesIn"], "bytesIn"),
      bytesOut: count(v["bytesOut"], "bytesOut"),
      closedAt: time(v["closedAt"], "closedAt"),
    };
    const reason = optText(v["reason"], "reason", LIMITS.text);
    if (reason !== undefined) out.reason = reason;
    return out;
  });
}

export function checkEventSeen(v: unknown): Checked<SessionEventSeen> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const out: SessionEventSeen = {
      sessionId: sessionId(v["sessionId"]),
      time: time(v["time"], "time"),
      type: str(v["type"], "type", 64),
      code: str(v["code"], "code", 32),
      outcome: str(v["outcome"], "outcome", 32),
    };
    if (v["workload"] !== undefined) out.workload = checkPod(v["workload"]);
    const reason = optText(v["reason"], "reason", LIMITS.text);
    if (reason !== undefined) out.reason = reason;
    return out;
  });
}

export function checkSessionEnded(v: unknown): Checked<SessionEnded> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const out: SessionEnded = { sessionId: sessionId(v["sessionId"]), time: time(v["time"], "time"), reason: str(v["reason"], "reason", 64) };
    const detail = optText(v["detail"], "detail", LIMITS.reason);
    if (detail !== undefined) out.detail = detail;
    return out;
  });
}

export function checkFinding(v: unknown): Checked<SessionFinding> {
  const parsed = sessionFindingSchema.safeParse(v);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: `finding: ${parsed.error.issues[0]?.message ?? "invalid"}` };
}

export function checkLocated(v: unknown): Checked<SessionLocated> {
  return attempt(() => {
    if (!isRecord(v)) return fail("not a record");
    const location = sessionLocationSchema.safeParse(v["location"]);
    if (!location.success) return fail("location is not a location");
    return { sessionId: sessionId(v["sessionId"]), time: time(v["time"], "time"), location: location.data };
  });
}

export function checkPodRef(v: unknown): Checked<PodRef> {
  return attempt(() => checkPod(v));
}
