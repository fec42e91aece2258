import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeAck, decodeHeartbeat, encodeAck, encodeHeartbeat, MAX_BUS_MESSAGE_BYTES } from "../../../../../operator/api/bus/codec.ts";
import { open, openAs, seal, SIGNING_CONTEXT } from "../../../../../operator/api/bus/envelope.ts";
import type { Body, EventBody } from "../../../../../operator/api/bus/messages.ts";
import { ack, compiledPolicy, heartbeat, revocation } from "../../../../builders/bus.ts";
import { newBusKey, sharedBusKey, verifyingOf } from "../../../../builders/bus-keys.ts";

const key = { kid: sharedBusKey.kid, privateKey: sharedBusKey.privateKey };
const keys = verifyingOf();
const EPOCH = "AAAAAAAAAAAAAAAAAAAAAA";
const header = { v: 2, epoch: EPOCH, namespace: "default", revision: 4 } as const;
const upsert: EventBody = { ...header, type: "event", prev: 3, changes: [{ op: "put", entry: { ...header, type: "policy", policy: compiledPolicy() } }] };
const lift: EventBody = {
  ...header,
  type: "event",
  prev: 3,
  changes: [{ op: "put", entry: { ...header, type: "revocation", revocation: revocation(), liftedAt: 1_700_000_100_000 } }],
};
const del: EventBody = { ...header, type: "event", prev: 3, changes: [{ op: "delete", field: "p:web" }] };

/** An envelope whose body is `text`, signed with the real key: what only the operator could write. */
function signedText(text: string): string {
  const sig = sign(null, Buffer.from(SIGNING_CONTEXT + text, "utf8"), sharedBusKey.privateKey).toString("base64url");
  return JSON.stringify({ v: 2, kid: key.kid, sig, body: text });
}

/** A signed upsert event with one field replaced by a path of keys. */
function upsertWith(path: string[], value: unknown): string {
  const body = JSON.parse(JSON.stringify(upsert)) as Record<string, unknown>;
  let target: Record<string, unknown> = body;
  for (const k of path.slice(0, -1)) target = target[k] as Record<string, unknown>;
  target[path[path.length - 1]!] = value;
  return signedText(JSON.stringify(body));
}

const policyAt = ["changes", "0", "entry", "policy"];
const rule = compiledPolicy().rules[0]!;

describe("signed bus messages round trip", () => {
  it.each<[string, Body]>([
    ["a policy upsert", upsert],
    ["a revocation lift", lift],
    ["a policy delete", del],
    ["an epoch record", { v: 2, type: "epoch", epoch: EPOCH, createdAt: 1, signedAt: 2 }],
    ["a head", { ...header, type: "head", digest: "a".repeat(64), entries: 3 }],
  ])("opens what it seals: %s", (_label, body) => {
    const sealed = seal(body, key);
    expect(open(sealed.envelope, keys)).toEqual({ ok: true, value: { body, text: sealed.text, kid: "k1" } });
  });

  it("round-trips heartbeats and acks (written by sidecars, unsigned) and drops unknown fields", () => {
    expect(decodeHeartbeat(encodeHeartbeat(heartbeat()))).toEqual({ ok: true, value: heartbeat() });
    expect(decodeAck(Buffer.from(encodeAck(ack())))).toEqual({ ok: true, value: ack() });
    const decoded = decodeAck(JSON.stringify({ ...ack(), extra: "x" }));
    expect(decoded.ok && Object.keys(decoded.value)).not.toContain("extra");
  });

  it("insists on the expected type", () => {
    expect(openAs(seal(del, key).envelope, keys, "head")).toMatchObject({ ok: false, error: { code: "BUS_UNKNOWN_TYPE" } });
  });
});

describe("write access to Redis is not write access to enforcement", () => {
  const sealed = seal(upsert, key);
  const envelope = JSON.parse(sealed.envelope) as { v: 2; kid: string; sig: string; body: string };

  it.each<[string, unknown, string]>([
    ["a v1 message (no envelope)", JSON.stringify({ v: 1, type: "policy.upsert", revision: 9, policy: compiledPolicy() }), "BUS_UNSIGNED"],
    ["a bare v2 body", JSON.stringify(upsert), "BUS_UNSIGNED"],
    ["a key id the sidecar does not hold", JSON.stringify({ ...envelope, kid: "k9" }), "BUS_UNKNOWN_KEY"],
    [
      "a body altered after signing (a group added)",
      JSON.stringify({ ...envelope, body: envelope.body.replace('"staff"', '"everyone"') }),
      "BUS_BAD_SIGNATURE",
    ],
    [
      "a signature from another key",
      JSON.stringify({ ...envelope, sig: sign(null, Buffer.from(SIGNING_CONTEXT + envelope.body), newBusKey().privateKey).toString("base64url") }),
      "BUS_BAD_SIGNATURE",
    ],
    [
      "a signature over the body without the context",
      JSON.stringify({ ...envelope, sig: sign(null, Buffer.from(envelope.body), sharedBusKey.privateKey).toString("base64url") }),
      "BUS_BAD_SIGNATURE",
    ],
    ["a truncated signature", JSON.stringify({ ...envelope, sig: envelope.sig.slice(0, 40) }), "BUS_INVALID_FIELD"],
    ["a signature of zeros", JSON.stringify({ ...envelope, sig: "A".repeat(86) }), "BUS_BAD_SIGNATURE"],
  ])("refuses %s", (_label, raw, code) => {
    expect(open(raw, keys)).toMatchObject({ ok: false, error: { code } });
  });
});

describe("bus message garbage corpus: never throws, always a stable code (even when signed)", () => {
  it.each<[string, unknown, string]>([
    ["not JSON", "{nope", "BUS_MALFORMED_JSON"],
    ["empty string", "", "BUS_MALFORMED_JSON"],
    ["null (missing key)", null, "BUS_MALFORMED_JSON"],
    ["a number", 42, "BUS_MALFORMED_JSON"],
    ["JSON null", "null", "BUS_INVALID_FIELD"],
    ["JSON array", "[1,2]", "BUS_INVALID_FIELD"],
    ["signed: not JSON", signedText("{nope"), "BUS_MALFORMED_JSON"],
    ["signed: missing v", signedText(JSON.stringify({ ...del, v: undefined })), "BUS_UNKNOWN_VERSION"],
    ['signed: v = "2"', signedText(JSON.stringify({ ...del, v: "2" })), "BUS_UNKNOWN_VERSION"],
    ["signed: unknown type", signedText(JSON.stringify({ ...del, type: "policy.nuke" })), "BUS_UNKNOWN_TYPE"],
    ["signed: revision as string", signedText(JSON.stringify({ ...del, revision: "5" })), "BUS_INVALID_FIELD"],
    ["signed: negative revision", signedText(JSON.stringify({ ...del, revision: -1 })), "BUS_INVALID_FIELD"],
    ["signed: fractional revision", signedText(JSON.stringify({ ...del, revision: 1.5 })), "BUS_INVALID_FIELD"],
    ["signed: revision 1e300", signedText(JSON.stringify(del).replace('"revision":4', '"revision":1e300')), "BUS_INVALID_FIELD"],
    ["signed: short epoch id", signedText(JSON.stringify({ ...del, epoch: "x" })), "BUS_INVALID_FIELD"],
    ["signed: policy rules not an array", upsertWith([...policyAt, "rules"], { length: 1 }), "BUS_INVALID_FIELD"],
    ["signed: bad rule action", upsertWith([...policyAt, "rules"], [{ ...rule, action: "Maybe" }]), "BUS_INVALID_FIELD"],
    ["signed: bad hash", upsertWith([...policyAt, "hash"], "abc"), "BUS_INVALID_FIELD"],
    ["signed: unknown failure mode", upsertWith([...policyAt, "failureMode"], "Open"), "BUS_INVALID_FIELD"],
    ["signed: non-canonical CIDR", upsertWith([...policyAt, "rules"], [{ ...rule, sourceCIDRs: ["10.1.0.0/8"] }]), "BUS_INVALID_FIELD"],
    ["signed: unknown time zone", upsertWith([...policyAt, "rules"], [{ ...rule, schedule: { timeZone: "Mars/Base", windows: [] } }]), "BUS_INVALID_FIELD"],
    [
      "signed: window ends before it starts",
      upsertWith([...policyAt, "rules"], [{ ...rule, schedule: { timeZone: "UTC", windows: [{ days: [], startMinute: 600, endMinute: 60 }] } }]),
      "BUS_INVALID_FIELD",
    ],
    [
      "signed: port out of range",
      upsertWith([...policyAt, "rules"], [{ ...rule, requests: [{ methods: [], paths: [], hosts: [], ports: [0] }] }]),
      "BUS_INVALID_FIELD",
    ],
    [
      "signed: relative path",
      upsertWith([...policyAt, "rules"], [{ ...rule, requests: [{ methods: [], paths: [{ kind: "exact", value: "x" }], hosts: [], ports: [] }] }]),
      "BUS_INVALID_FIELD",
    ],
    ["signed: unknown identity kind", upsertWith([...policyAt, "rules"], [{ ...rule, identities: [{ kind: "root" }] }]), "BUS_INVALID_FIELD"],
    [
      "signed: bad selector kind",
      signedText(
        JSON.stringify({
          ...lift,
          changes: [{ op: "put", entry: { ...header, type: "revocation", revocation: { ...revocation(), selector: { kind: "everyone" } } } }],
        }),
      ),
      "BUS_INVALID_FIELD",
    ],
    [
      "signed: expiry as a string",
      signedText(
        JSON.stringify({
          ...lift,
          changes: [{ op: "put", entry: { ...header, type: "revocation", revocation: { ...revocation(), expiresAt: "2026-01-01" } } }],
        }),
      ),
      "BUS_INVALID_FIELD",
    ],
    ["signed: __proto__ at the top", signedText(JSON.stringify(del).replace('{"v":2', '{"__proto__":{"polluted":true},"v":2')), "BUS_INVALID_FIELD"],
    [
      "__proto__ in the envelope",
      JSON.stringify({ ...JSON.parse(seal(del, key).envelope), x: 1 }).replace('"x":1', '"__proto__":{"polluted":true}'),
      "BUS_INVALID_FIELD",
    ],
    ["a 2 MiB body", JSON.stringify({ v: 2, kid: "k1", sig: "A".repeat(86), body: "x".repeat(2 * 1024 * 1024) }), "BUS_TOO_LARGE"],
    [
      "just over 1 MiB of multibyte text",
      JSON.stringify({ v: 2, kid: "k1", sig: "A".repeat(86), body: "é".repeat(MAX_BUS_MESSAGE_BYTES / 2) }),
      "BUS_TOO_LARGE",
    ],
    ["100k nested arrays", `{"v":2,"kid":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, "BUS_MALFORMED_JSON"],
    ["signed: 100k unclosed arrays", signedText(`{"v":2,"x":${"[".repeat(100_000)}`), "BUS_MALFORMED_JSON"],
  ])("%s", (_label, raw, code) => {
    const opened = open(raw, keys);
    expect(opened.ok).toBe(false);
    if (!opened.ok) {
      expect(opened.error.code).toBe(code);
      expect(opened.error.message.length).toBeLessThan(300);
    }
  });

  it("never pollutes Object.prototype", () => {
    open(signedText(JSON.stringify(del).replace('{"v":2', '{"__proto__":{"polluted":true},"v":2')), keys);
    decodeHeartbeat(JSON.stringify({ ...heartbeat(), labels: JSON.parse('{"__proto__":{"polluted":"yes"}}') as unknown }));
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ["labels as an array", { ...heartbeat(), labels: ["a"] }],
    ["label value as a number", { ...heartbeat(), labels: { app: 1 } }],
    ["appliedRevision missing", { ...heartbeat(), appliedRevision: undefined }],
    ["an epoch that is not an epoch id", { ...heartbeat(), epoch: "x" }],
  ])("rejects a heartbeat with %s", (_label, value) => {
    expect(decodeHeartbeat(JSON.stringify(value))).toMatchObject({ ok: false, error: { code: "BUS_INVALID_FIELD" } });
  });

  it.each<[string, unknown]>([
    ["negative counts", { ...ack(), connectionsClosed: -1 }],
    ["counts as strings", { ...ack(), sessionsTerminated: "2" }],
    ["empty pod", { ...ack(), pod: "" }],
    ["wire version 1", { ...ack(), v: 1 }],
  ])("rejects an ack with %s", (_label, value) => {
    expect(decodeAck(JSON.stringify(value)).ok).toBe(false);
  });
});
