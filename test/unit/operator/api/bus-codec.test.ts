import { describe, expect, it } from "vitest";
import type { BusEvent } from "../../../../operator/api/bus.ts";
import {
  decodeAck,
  decodeEvent,
  decodeHeartbeat,
  decodeRevocation,
  decodeStoredPolicy,
  encodeAck,
  encodeEvent,
  encodeHeartbeat,
  encodeRevocation,
  encodeStoredPolicy,
  MAX_BUS_MESSAGE_BYTES,
} from "../../../../operator/api/bus-codec.ts";
import { ack, compiledPolicy, heartbeat, revocation, storedPolicy } from "../../../builders/bus.ts";

const upsert: BusEvent = { v: 1, type: "policy.upsert", revision: 4, policy: compiledPolicy() };
const del: BusEvent = { v: 1, type: "policy.delete", revision: 5, namespace: "default", name: "web" };
const termination: BusEvent = { v: 1, type: "termination", revision: 6, revocation: revocation() };

/** JSON of a valid upsert event with one field replaced by a path of keys. */
function upsertWith(path: string[], value: unknown): string {
  const message = JSON.parse(encodeEvent(upsert)) as Record<string, unknown>;
  let target: Record<string, unknown> = message;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path[path.length - 1]!] = value;
  return JSON.stringify(message);
}

describe("bus codec round trips", () => {
  it.each([upsert, del, termination])("decodes what it encodes: $type", (event) => {
    expect(decodeEvent(encodeEvent(event))).toEqual({ ok: true, value: event });
  });

  it("round-trips stored policies, revocations, heartbeats and acks", () => {
    expect(decodeStoredPolicy(encodeStoredPolicy(storedPolicy()))).toEqual({ ok: true, value: storedPolicy() });
    expect(decodeRevocation(encodeRevocation(revocation()))).toEqual({ ok: true, value: revocation() });
    const subject = revocation({ selector: { kind: "subject", subject: "u1", issuer: "https://idp" } });
    expect(decodeRevocation(encodeRevocation(subject))).toEqual({ ok: true, value: subject });
    expect(decodeHeartbeat(encodeHeartbeat(heartbeat()))).toEqual({ ok: true, value: heartbeat() });
    expect(decodeAck(encodeAck(ack()))).toEqual({ ok: true, value: ack() });
  });

  it("drops unknown fields instead of passing them on", () => {
    const decoded = decodeAck(JSON.stringify({ ...ack(), extra: "x" }));
    expect(decoded.ok && Object.keys(decoded.value)).not.toContain("extra");
  });

  it("accepts Buffers as well as strings", () => {
    expect(decodeAck(Buffer.from(encodeAck(ack()))).ok).toBe(true);
  });
});

describe("bus codec garbage corpus: never throws, always a typed error", () => {
  it.each<[string, unknown, string]>([
    ["not JSON", "{nope", "BUS_MALFORMED_JSON"],
    ["empty string", "", "BUS_MALFORMED_JSON"],
    ["null (missing key)", null, "BUS_MALFORMED_JSON"],
    ["a number", 42, "BUS_MALFORMED_JSON"],
    ["JSON null", "null", "BUS_INVALID_FIELD"],
    ["JSON array", "[1,2]", "BUS_INVALID_FIELD"],
    ["JSON string", '"hello"', "BUS_INVALID_FIELD"],
    ["missing v", JSON.stringify({ ...del, v: undefined }), "BUS_UNKNOWN_VERSION"],
    ["v = 2", JSON.stringify({ ...del, v: 2 }), "BUS_UNKNOWN_VERSION"],
    ['v = "1"', JSON.stringify({ ...del, v: "1" }), "BUS_UNKNOWN_VERSION"],
    ["unknown type", JSON.stringify({ ...del, type: "policy.nuke" }), "BUS_UNKNOWN_TYPE"],
    ["missing type", JSON.stringify({ v: 1, revision: 1 }), "BUS_UNKNOWN_TYPE"],
    ["revision as string", JSON.stringify({ ...del, revision: "5" }), "BUS_INVALID_FIELD"],
    ["negative revision", JSON.stringify({ ...del, revision: -1 }), "BUS_INVALID_FIELD"],
    ["fractional revision", JSON.stringify({ ...del, revision: 1.5 }), "BUS_INVALID_FIELD"],
    ["revision beyond 2^53", '{"v":1,"type":"policy.delete","revision":1e300,"namespace":"a","name":"b"}', "BUS_INVALID_FIELD"],
    ["empty name", JSON.stringify({ ...del, name: "" }), "BUS_INVALID_FIELD"],
    ["name as object", JSON.stringify({ ...del, name: { toString: "x" } }), "BUS_INVALID_FIELD"],
    ["policy missing", JSON.stringify({ ...upsert, policy: undefined }), "BUS_INVALID_FIELD"],
    ["policy rules not an array", upsertWith(["policy", "rules"], { length: 1 }), "BUS_INVALID_FIELD"],
    ["bad rule action", upsertWith(["policy", "rules"], [{ ...compiledPolicy().rules[0], action: "Maybe" }]), "BUS_INVALID_FIELD"],
    ["bad hash", upsertWith(["policy", "hash"], "abc"), "BUS_INVALID_FIELD"],
    ["unknown failure mode", upsertWith(["policy", "failureMode"], "Open"), "BUS_INVALID_FIELD"],
    ["nested v wrong", upsertWith(["policy", "v"], 2), "BUS_INVALID_FIELD"],
    ["non-canonical CIDR", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [], requests: [], sourceCIDRs: ["10.1.0.0/8"], schedule: null }]), "BUS_INVALID_FIELD"],
    ["unknown time zone", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [], requests: [], sourceCIDRs: [], schedule: { timeZone: "Mars/Base", windows: [] } }]), "BUS_INVALID_FIELD"],
    ["window ends before it starts", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [], requests: [], sourceCIDRs: [], schedule: { timeZone: "UTC", windows: [{ days: [], startMinute: 600, endMinute: 60 }] } }]), "BUS_INVALID_FIELD"],
    ["port out of range", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [], requests: [{ methods: [], paths: [], hosts: [], ports: [0] }], sourceCIDRs: [], schedule: null }]), "BUS_INVALID_FIELD"],
    ["relative path", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [], requests: [{ methods: [], paths: [{ kind: "exact", value: "x" }], hosts: [], ports: [] }], sourceCIDRs: [], schedule: null }]), "BUS_INVALID_FIELD"],
    ["unknown identity kind", upsertWith(["policy", "rules"], [{ name: "r", action: "Allow", identities: [{ kind: "root" }], requests: [], sourceCIDRs: [], schedule: null }]), "BUS_INVALID_FIELD"],
    ["__proto__ at the top", '{"v":1,"type":"policy.delete","revision":1,"namespace":"a","name":"b","__proto__":{"polluted":true}}', "BUS_INVALID_FIELD"],
    ["__proto__ deep inside labels", upsertWith(["policy", "selector", "matchLabels"], {}).replace('"matchLabels":{}', '"matchLabels":{"__proto__":{"admin":"1"}}'), "BUS_INVALID_FIELD"],
    ["a 2 MiB string", JSON.stringify({ ...del, name: "x".repeat(2 * 1024 * 1024) }), "BUS_TOO_LARGE"],
    ["just over 1 MiB of multibyte text", JSON.stringify({ ...del, name: "é".repeat(MAX_BUS_MESSAGE_BYTES / 2) }), "BUS_TOO_LARGE"],
    ["100k nested arrays (beyond the parser's depth)", `{"v":1,"type":"policy.delete","revision":1,"namespace":${"[".repeat(100_000)}${"]".repeat(100_000)},"name":"b"}`, "BUS_MALFORMED_JSON"],
    ["50 nested arrays where a string belongs", `{"v":1,"type":"policy.delete","revision":1,"namespace":${"[".repeat(50)}${"]".repeat(50)},"name":"b"}`, "BUS_INVALID_FIELD"],
    ["100k unclosed arrays", `{"v":1,"x":${"[".repeat(100_000)}`, "BUS_MALFORMED_JSON"],
  ])("%s", (_label, raw, code) => {
    const decoded = decodeEvent(raw);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.error.code).toBe(code);
      expect(decoded.error.message.length).toBeLessThan(300);
    }
  });

  it("never pollutes Object.prototype", () => {
    decodeEvent('{"v":1,"type":"policy.delete","revision":1,"namespace":"a","name":"b","__proto__":{"polluted":true}}');
    decodeHeartbeat(JSON.stringify({ ...heartbeat(), labels: JSON.parse('{"__proto__":{"polluted":"yes"}}') as unknown }));
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ["bad selector kind", { ...revocation(), selector: { kind: "everyone" } }],
    ["session selector without id", { ...revocation(), selector: { kind: "session" } }],
    ["expiresAt as ISO string", { ...revocation(), expiresAt: "2026-01-01T00:00:00Z" }],
    ["issuedAt NaN-ish", { ...revocation(), issuedAt: null }],
  ])("rejects a revocation with %s", (_label, value) => {
    expect(decodeRevocation(JSON.stringify(value))).toMatchObject({ ok: false, error: { code: "BUS_INVALID_FIELD" } });
  });

  it.each<[string, unknown]>([
    ["labels as an array", { ...heartbeat(), labels: ["a"] }],
    ["label value as a number", { ...heartbeat(), labels: { app: 1 } }],
    ["appliedRevision missing", { ...heartbeat(), appliedRevision: undefined }],
  ])("rejects a heartbeat with %s", (_label, value) => {
    expect(decodeHeartbeat(JSON.stringify(value))).toMatchObject({ ok: false, error: { code: "BUS_INVALID_FIELD" } });
  });

  it.each<[string, unknown]>([
    ["negative counts", { ...ack(), connectionsClosed: -1 }],
    ["counts as strings", { ...ack(), sessionsTerminated: "2" }],
    ["empty pod", { ...ack(), pod: "" }],
  ])("rejects an ack with %s", (_label, value) => {
    expect(decodeAck(JSON.stringify(value))).toMatchObject({ ok: false, error: { code: "BUS_INVALID_FIELD" } });
  });

  it("rejects a stored policy whose revision is missing", () => {
    expect(decodeStoredPolicy(JSON.stringify({ ...storedPolicy(), revision: undefined }))).toMatchObject({
      ok: false,
      error: { code: "BUS_INVALID_FIELD" },
    });
  });
});
