/**
 * SSF 1.0 / CAEP 1.0 event semantics with plain data: each event type and RFC 9493 subject format → what Vigil does
 * (end sessions with which target and cutoff, record only, verification, stream status), and what is refused.
 */
import { describe, expect, it } from "vitest";
import type { TerminationTarget } from "../../../../operator/api/v1alpha1/index.ts";
import { actionOf, EVENT_TYPES, parseSubject } from "../../../../operator/signals/ssf/events.ts";
import { SignalError } from "../../../../operator/signals/verify.ts";

const USERS = "https://login.example.com";
const NOW = 1_750_000_000_000;
const IAT = NOW / 1000 - 30;
const set = (type: string, subId: unknown, event: Record<string, unknown> = {}): Record<string, unknown> => ({
  iat: IAT,
  ...(subId === undefined ? {} : { sub_id: subId }),
  events: { [type]: event },
});
const issSub = { format: "iss_sub", iss: "https://other-idp.example", sub: "u1" };
const complexSession = { format: "complex", user: issSub, session: { format: "opaque", id: "sid-9" } };

describe("parseSubject (RFC 9493)", () => {
  it.each([
    [{ format: "email", email: "a@example.com" }, { email: "a@example.com" }],
    [issSub, { issSub: { iss: issSub.iss, sub: "u1" } }],
    [{ format: "opaque", id: "x" }, { opaque: "x" }],
    [complexSession, { issSub: { iss: issSub.iss, sub: "u1" }, session: "sid-9" }],
    [
      { format: "complex", user: { format: "email", email: "b@example.com" }, device: { format: "opaque", id: "d1" } },
      { email: "b@example.com", device: "d1" },
    ],
  ])("%j → %j", (input, expected) => {
    expect(parseSubject(input)).toEqual(expected);
  });

  it.each([
    ["an unknown format", { format: "phone_number", phone_number: "+1" }],
    ["an email without its address", { format: "email" }],
    ["iss_sub without sub", { format: "iss_sub", iss: USERS }],
    ["a complex subject naming only a device", { format: "complex", device: { format: "opaque", id: "d1" } }],
    ["a complex subject whose session is not opaque", { format: "complex", user: issSub, session: { format: "email", email: "a@b.c" } }],
    ["not an object", "alice"],
  ])("%s → unusable", (_name, input) => {
    expect(parseSubject(input)).toBeUndefined();
  });
});

describe("actionOf (CAEP 1.0)", () => {
  const ends = (claims: Record<string, unknown>): { target: TerminationTarget; signal: string; cutoff: number } => {
    const a = actionOf(claims, USERS, NOW);
    if (a.kind !== "terminate") throw new Error(`expected terminate, got ${a.kind}`);
    return { target: a.target, signal: a.signal, cutoff: a.cutoff };
  };

  it.each<[string, Record<string, unknown>, TerminationTarget]>([
    ["session-revoked naming the IdP session", set(EVENT_TYPES.sessionRevoked, complexSession), { idpSessionID: "sid-9", issuer: issSub.iss }],
    [
      "session-revoked naming a session without a user (the subject issuer)",
      set(EVENT_TYPES.sessionRevoked, { format: "complex", session: { format: "opaque", id: "s" } }),
      { idpSessionID: "s", issuer: USERS },
    ],
    ["session-revoked for a user by iss_sub", set(EVENT_TYPES.sessionRevoked, issSub), { subject: "u1", issuer: issSub.iss }],
    [
      "session-revoked for a user by email (lower-cased)",
      set(EVENT_TYPES.sessionRevoked, { format: "email", email: "A@Example.COM" }),
      { email: "a@example.com" },
    ],
    ["credential-change revoke", set(EVENT_TYPES.credentialChange, issSub, { change_type: "revoke" }), { subject: "u1", issuer: issSub.iss }],
    [
      "credential-change delete (the user, not just the session)",
      set(EVENT_TYPES.credentialChange, complexSession, { change_type: "delete" }),
      { subject: "u1", issuer: issSub.iss },
    ],
    [
      "device-compliance-change not-compliant with the device's session",
      set(EVENT_TYPES.deviceComplianceChange, { ...complexSession, device: { format: "opaque", id: "d" } }, { current_status: "not-compliant" }),
      { idpSessionID: "sid-9", issuer: issSub.iss },
    ],
    [
      "device-compliance-change not-compliant, no session named",
      set(EVENT_TYPES.deviceComplianceChange, { format: "complex", user: issSub, device: { format: "opaque", id: "d" } }, { current_status: "not-compliant" }),
      { subject: "u1", issuer: issSub.iss },
    ],
  ])("%s", (_name, claims, target) => {
    expect(ends(claims).target).toEqual(target);
  });

  it("the cutoff is the event's time, else the SET's iat, never later than now", () => {
    expect(ends(set(EVENT_TYPES.sessionRevoked, issSub, { event_timestamp: IAT - 100 })).cutoff).toBe((IAT - 100) * 1000);
    expect(ends(set(EVENT_TYPES.sessionRevoked, issSub)).cutoff).toBe(IAT * 1000);
    expect(ends(set(EVENT_TYPES.sessionRevoked, issSub, { event_timestamp: NOW / 1000 + 3600 })).cutoff).toBe(NOW);
    expect(ends(set(EVENT_TYPES.sessionRevoked, issSub)).signal).toBe("session-revoked");
  });

  it.each([
    ["credential-change create", set(EVENT_TYPES.credentialChange, issSub, { change_type: "create" })],
    ["device-compliance-change to compliant", set(EVENT_TYPES.deviceComplianceChange, issSub, { current_status: "compliant" })],
    ["assurance-level-change increasing", set(EVENT_TYPES.assuranceLevelChange, issSub, { change_direction: "increase" })],
    ["token-claims-change", set(EVENT_TYPES.tokenClaimsChange, issSub, { claims: {} })],
  ])("%s is recorded only", (_name, claims) => {
    expect(actionOf(claims, USERS, NOW).kind).toBe("audit");
  });

  it("assurance-level-change decreasing is an audit event naming the levels", () => {
    const claims = set(EVENT_TYPES.assuranceLevelChange, issSub, {
      namespace: "NIST-AAL",
      previous_level: "nist-aal2",
      current_level: "nist-aal1",
      change_direction: "decrease",
    });
    expect(actionOf(claims, USERS, NOW)).toEqual({
      kind: "audit",
      signal: "assurance-level-change",
      description: "assurance level decreased (NIST-AAL: nist-aal2 → nist-aal1)",
    });
  });

  it("verification and stream-updated need no subject", () => {
    expect(actionOf(set(EVENT_TYPES.verification, undefined, { state: "abc" }), USERS, NOW)).toEqual({ kind: "verification", state: "abc" });
    expect(actionOf(set(EVENT_TYPES.streamUpdated, { format: "opaque", id: "st" }, { status: "paused" }), USERS, NOW)).toEqual({
      kind: "stream-updated",
      status: "paused",
    });
  });

  it.each([
    ["no events claim", { iat: IAT, sub_id: issSub }, "no_events"],
    ["two events", { iat: IAT, sub_id: issSub, events: { [EVENT_TYPES.sessionRevoked]: {}, [EVENT_TYPES.credentialChange]: {} } }, "event_count"],
    ["no event", { iat: IAT, sub_id: issSub, events: {} }, "event_count"],
    ["an unknown event type", set("https://example.com/event/other", issSub), "unknown_event"],
    ["an event that is not an object", { iat: IAT, sub_id: issSub, events: { [EVENT_TYPES.sessionRevoked]: "x" } }, "bad_event"],
    ["no sub_id", set(EVENT_TYPES.sessionRevoked, undefined), "no_sub_id"],
    ["an opaque subject", set(EVENT_TYPES.sessionRevoked, { format: "opaque", id: "x" }), "unusable_subject"],
    [
      "credential-change revoke naming only a session",
      set(EVENT_TYPES.credentialChange, { format: "complex", session: { format: "opaque", id: "s" } }, { change_type: "revoke" }),
      "unusable_subject",
    ],
  ])("%s is refused as invalid_request", (_name, claims, reason) => {
    let caught: unknown;
    try {
      actionOf(claims, USERS, NOW);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SignalError);
    expect(caught).toMatchObject({ code: "invalid_request", reason });
  });
});
