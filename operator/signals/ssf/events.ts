/**
 * SSF 1.0 / CAEP 1.0 event semantics (pure): a verified SET's claims → what Vigil does.
 *
 * - exactly one member in `events`, of a known type (CAEP events, SSF verification and stream-updated); anything
 *   else is refused;
 * - the subject is the top-level `sub_id` (RFC 9493: `email`, `iss_sub`, `opaque` — verification only — and
 *   `complex` with `user`, `session`, `device`, `tenant`); a missing or unusable one is refused;
 * - session-revoked → the IdP session (`complex.session`, its opaque id is the tokens' `sid`), else every session of
 *   the user; credential-change with change_type revoke or delete → every session of the user (create/update:
 *   audit only); device-compliance-change to not-compliant → the IdP session named with the device, else every
 *   session of the user (Vigil cannot tell which of a user's sessions run on an IdP device the provider does not
 *   tie to a session); assurance-level-change with change_direction decrease → an audit event; other CAEP events →
 *   audit only;
 * - the cutoff is the event's `event_timestamp` (else the SET's `iat`), never later than now: sessions started after
 *   the event are never ended by it.
 */
import type { TerminationTarget } from "../../api/v1alpha1/index.ts";
import { SignalError } from "../verify.ts";

const CAEP = "https://schemas.openid.net/secevent/caep/event-type/";
const SSF = "https://schemas.openid.net/secevent/ssf/event-type/";
export const EVENT_TYPES = {
  sessionRevoked: `${CAEP}session-revoked`,
  credentialChange: `${CAEP}credential-change`,
  deviceComplianceChange: `${CAEP}device-compliance-change`,
  assuranceLevelChange: `${CAEP}assurance-level-change`,
  tokenClaimsChange: `${CAEP}token-claims-change`,
  sessionEstablished: `${CAEP}session-established`,
  sessionPresented: `${CAEP}session-presented`,
  verification: `${SSF}verification`,
  streamUpdated: `${SSF}stream-updated`,
} as const;
const KNOWN = new Set<string>(Object.values(EVENT_TYPES));

export type SsfAction =
  | { kind: "terminate"; signal: string; target: TerminationTarget; cutoff: number; description: string }
  | { kind: "audit"; signal: string; description: string }
  | { kind: "verification"; state: string | undefined }
  | { kind: "stream-updated"; status: string | undefined };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown, max = 1024): string | undefined => (typeof v === "string" && v !== "" && v.length <= max ? v : undefined);

export interface Subject {
  email?: string;
  issSub?: { iss: string; sub: string };
  opaque?: string;
  session?: string;
  device?: string;
}

/** RFC 9493 subject identifier → what Vigil can use of it. */
export function parseSubject(v: unknown): Subject | undefined {
  if (!isObj(v)) return undefined;
  switch (v["format"]) {
    case "email":
      return only("email", str(v["email"], 254));
    case "iss_sub":
      return issSub(v);
    case "opaque":
      return only("opaque", str(v["id"], 256));
    case "complex":
      return complex(v);
    default:
      return undefined;
  }
}

function opaqueOf(v: unknown): string | undefined {
  return v === undefined ? undefined : parseSubject(v)?.opaque;
}

function only(field: "email" | "opaque", value: string | undefined): Subject | undefined {
  return value === undefined ? undefined : { [field]: value };
}

function issSub(v: Obj): Subject | undefined {
  const iss = str(v["iss"], 2048);
  const sub = str(v["sub"], 256);
  return iss === undefined || sub === undefined ? undefined : { issSub: { iss, sub } };
}

function complex(v: Obj): Subject | undefined {
  const user = v["user"] === undefined ? {} : parseSubject(v["user"]);
  const session = opaqueOf(v["session"]);
  const device = opaqueOf(v["device"]);
  if (user === undefined || (v["session"] !== undefined && session === undefined)) return undefined;
  const out: Subject = {
    ...(user.email === undefined ? {} : { email: user.email }),
    ...(user.issSub === undefined ? {} : { issSub: user.issSub }),
    ...(session === undefined ? {} : { session }),
    ...(device === undefined ? {} : { device }),
  };
  return Object.keys(out).length === 0 || (out.device !== undefined && Object.keys(out).length === 1) ? undefined : out;
}

function userTarget(s: Subject): TerminationTarget | undefined {
  if (s.issSub !== undefined) return { subject: s.issSub.sub, issuer: s.issSub.iss };
  if (s.email !== undefined) return { email: s.email.toLowerCase() };
  return undefined;
}

function sessionOrUser(s: Subject, subjectIssuer: string): TerminationTarget | undefined {
  if (s.session !== undefined) return { idpSessionID: s.session, issuer: s.issSub?.iss ?? subjectIssuer };
  return userTarget(s);
}

const unusable = (): SignalError => new SignalError("invalid_request", "unusable_subject", "sub_id names no user or session this receiver can act on");

/** The one event of a verified SET and what to do about it; throws SignalError for what must be refused. */
export function actionOf(claims: Obj, subjectIssuer: string, now: number): SsfAction {
  const { type, event } = theEvent(claims);
  if (type === EVENT_TYPES.verification) return { kind: "verification", state: str(event["state"], 256) };
  if (type === EVENT_TYPES.streamUpdated) return { kind: "stream-updated", status: str(event["status"], 32) };
  if (claims["sub_id"] === undefined) throw new SignalError("invalid_request", "no_sub_id", "the SET has no sub_id");
  const subject = parseSubject(claims["sub_id"]);
  if (subject === undefined || (subject.session === undefined && userTarget(subject) === undefined)) throw unusable();
  const cutoff = cutoffOf(claims, event, now);
  const name = type.slice(type.lastIndexOf("/") + 1);
  const terminate = (target: TerminationTarget | undefined, description: string): SsfAction => {
    if (target === undefined) throw unusable();
    return { kind: "terminate", signal: name, target, cutoff, description };
  };
  const audit = (description: string): SsfAction => ({ kind: "audit", signal: name, description });
  switch (type) {
    case EVENT_TYPES.sessionRevoked:
      return terminate(sessionOrUser(subject, subjectIssuer), "CAEP session-revoked");
    case EVENT_TYPES.credentialChange:
      return credentialChange(event, terminate, audit, subject);
    case EVENT_TYPES.deviceComplianceChange:
      return event["current_status"] === "not-compliant"
        ? terminate(sessionOrUser(subject, subjectIssuer), "CAEP device-compliance-change to not-compliant")
        : audit("device-compliance-change: compliant");
    case EVENT_TYPES.assuranceLevelChange:
      return assurance(event, audit);
    default:
      return audit(`${name}: no session ends`);
  }
}

/** The event's event_timestamp (else the SET's iat), never later than now. */
function cutoffOf(claims: Obj, event: Obj, now: number): number {
  const iat = typeof claims["iat"] === "number" ? claims["iat"] * 1000 : now;
  const stamp = event["event_timestamp"];
  return Math.min(typeof stamp === "number" && Number.isFinite(stamp) ? stamp * 1000 : iat, now);
}

function assurance(event: Obj, audit: (d: string) => SsfAction): SsfAction {
  if (event["change_direction"] !== "decrease") return audit("assurance level did not decrease");
  return audit(
    `assurance level decreased (${str(event["namespace"], 64) ?? "?"}: ${str(event["previous_level"], 64) ?? "?"} → ${str(event["current_level"], 64) ?? "?"})`,
  );
}

function theEvent(claims: Obj): { type: string; event: Obj } {
  const events = claims["events"];
  if (!isObj(events)) throw new SignalError("invalid_request", "no_events", "the SET has no events claim");
  const types = Object.keys(events);
  if (types.length !== 1) throw new SignalError("invalid_request", "event_count", `a SET must carry exactly one event (it has ${types.length})`);
  const type = types[0] ?? "";
  const event = events[type];
  if (!KNOWN.has(type)) throw new SignalError("invalid_request", "unknown_event", "the event type is not one this receiver knows");
  if (!isObj(event)) throw new SignalError("invalid_request", "bad_event", "the event must be a JSON object");
  return { type, event };
}

function credentialChange(
  event: Obj,
  terminate: (t: TerminationTarget | undefined, d: string) => SsfAction,
  audit: (d: string) => SsfAction,
  subject: Subject,
): SsfAction {
  const change = event["change_type"];
  if (change === "revoke" || change === "delete")
    return terminate(userTarget(subject), `CAEP credential-change (${change} ${str(event["credential_type"], 64) ?? "credential"})`);
  return audit(`credential-change ${str(change, 16) ?? "?"}: no session ends`);
}
