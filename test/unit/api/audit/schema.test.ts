import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUDIT_CATALOGUE, CLOSE_REASONS, END_REASONS, type AuditEventType } from "../../../../operator/api/audit/catalogue.ts";
import type { AuditEvent } from "../../../../operator/api/audit/events.ts";
import { FINDING_EVENTS, findingOfEvent } from "../../../../operator/api/audit/findings.ts";
import type { SessionFinding } from "../../../../operator/api/protections/findings.ts";
import { auditLogFields } from "../../../../operator/api/audit/log-form.ts";
import { auditEventSchema, parseAuditBatch } from "../../../../operator/api/audit/schema.ts";
import { parseAuditEntry } from "../../../../operator/api/audit/stream.ts";
import * as build from "../../../../sidecar/audit/build.ts";
import { newRecord } from "../../../../sidecar/sessions/record.ts";
import { principal } from "../../../builders/principal.ts";

const W = { namespace: "shop", pod: "web-0" };
const SID = "s_AAAAAAAAAAAAAAAAAAAAAA";
const CID = "c_BBBBBBBBBBBBBBBBBBBBBB";
const T = 1_700_000_000_000;
const who = principal();
const flow = { id: "c_1", kind: "websocket" as const, peer: "203.0.113.7:50000", port: 8080, openedAt: T, bytesIn: 10, bytesOut: 20 };
const refusal = { code: "DENIED_BY_RULE", status: 403, policy: "shop/web", rule: "no-contractors" };
const OTHER_SID = "s_CCCCCCCCCCCCCCCCCCCCCC";
const place = (city: string, country: string, latitude: number, longitude: number, time: number) => ({
  city,
  country,
  latitude,
  longitude,
  accuracyRadiusKm: 10,
  time,
});

/** One finding of every code, as the guard reports them (evidence full of personal data). */
function everyFinding(): SessionFinding[] {
  const f = { v: 1 as const, sessionId: SID, namespace: "shop", pod: "web-0", time: T, policy: "shop/web" };
  return [
    {
      ...f,
      code: "SESSION_NETWORK_CHANGED",
      mode: "Audit",
      outcome: "recorded",
      evidence: { kind: "network", granularity: "Prefix", bound: "203.0.113.0/24", observed: "198.51.100.0/24" },
    },
    {
      ...f,
      code: "SESSION_DEVICE_CHANGED",
      mode: "Enforce",
      outcome: "refused",
      evidence: { kind: "device", changed: [{ component: "Browser", bound: "Chrome 140", observed: "Firefox 141" }] },
    },
    {
      ...f,
      code: "SESSION_IMPOSSIBLE_TRAVEL",
      mode: "Enforce",
      outcome: "refused",
      evidence: {
        kind: "travel",
        from: place("Singapore", "SG", 1.29, 103.85, T - 3_600_000),
        to: place("Melbourne", "AU", -37.81, 144.96, T),
        distanceKm: 6051.4,
        effectiveDistanceKm: 6031.4,
        elapsedSeconds: 3600,
        speedKmh: 6031.4,
        maxSpeedKmh: 1000,
      },
    },
    { ...f, code: "SESSION_NEW_COUNTRY", mode: "Audit", outcome: "recorded", evidence: { kind: "newCountry", country: "AU", knownCountries: ["SG"] } },
    {
      ...f,
      code: "SESSION_LIMIT_EXCEEDED",
      mode: "Enforce",
      outcome: "refused",
      evidence: { kind: "limit", limit: 2, live: 3, onExceed: "EndOldest", ended: [OTHER_SID] },
    },
  ];
}

/** One event of every type, as the sidecar builds them (cid filled in as the reporter does). */
function everyEvent(): AuditEvent[] {
  const record = newRecord(
    SID,
    "key",
    who,
    { idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000 },
    { clientIp: "203.0.113.7", userAgent: "curl/8", workload: "shop/web-0", now: T },
  );
  const events: AuditEvent[] = [
    build.sessionStart(W, record, "203.0.113.7", T),
    build.sessionActivity(W, SID, who, { requests: 3, clientIP: "2001:db8::1", policy: "shop/web", rule: "staff", lastAt: T + 1 }),
    build.sessionRefused(W, SID, who, { clientIP: "203.0.113.7", flowKind: "http", refusal, count: 2 }, T + 2),
    build.sessionEnd(W, SID, "Terminated", T + 3, "SessionTermination shop/end-alice"),
    build.flowOpen(W, SID, flow, T),
    build.flowProgress(W, SID, { ...flow, bytesIn: 100 }, T + 5),
    build.flowClose(W, SID, { ...flow, bytesIn: 200 }, "Terminated", T + 6),
    build.accessRefused(W, { clientIP: "198.51.100.1", flowKind: "tunnel", refusal: { code: "TOKEN_INVALID", status: 401 }, count: 5 }, T),
    build.terminationApplied(W, "shop/end-alice", 1, 3, T),
    { v: 1, event: "audit.dropped", code: "VS005W", time: T, outcome: "failure", workload: W, dropped: 7 },
    build.sessionLocated(W, SID, { country: "SG", city: "Singapore", asn: 64500, asOrganization: "Example Net" }, T),
    ...everyFinding().map((f) => build.sessionFinding(W, f)),
  ];
  for (const e of events) if ("cid" in e) e.cid = CID;
  return events;
}

describe("the audit catalogue", () => {
  it("gives every event type one stable, unique code: two letters, three digits, a severity letter", () => {
    const codes = Object.values(AUDIT_CATALOGUE).map((c) => c.code);
    for (const code of codes) expect(code).toMatch(/^V[A-Z]\d{3}[IWE]$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("is documented in docs/audit-events.md: every type, code, end reason and close reason", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../../../docs/audit-events.md"), "utf8");
    for (const [type, { code }] of Object.entries(AUDIT_CATALOGUE)) {
      expect(doc, type).toContain(`\`${type}\``);
      expect(doc, code).toContain(`\`${code}\``);
    }
    for (const reason of [...END_REASONS, ...CLOSE_REASONS]) expect(doc, reason).toContain(`\`${reason}\``);
  });
});

describe("the audit event schema", () => {
  it("accepts every event the sidecar builds, with the catalogue's code for its type", () => {
    const events = everyEvent();
    expect(new Set(events.map((e) => e.event))).toEqual(
      new Set(Object.keys(AUDIT_CATALOGUE).filter((t) => AUDIT_CATALOGUE[t as AuditEventType].source === "sidecar")),
    );
    for (const e of events) {
      expect(auditEventSchema.safeParse(e).success, e.event).toBe(true);
      expect(e.code).toBe(AUDIT_CATALOGUE[e.event].code);
    }
  });

  it("refuses a code that is not its type's, a raw id where the correlation id goes, a bad IP, an unknown reason, negative bytes", () => {
    const [start, , , end, open] = everyEvent() as [AuditEvent, AuditEvent, AuditEvent, AuditEvent, AuditEvent];
    const bad: unknown[] = [
      { ...start, code: "VS004I" },
      { ...start, cid: SID },
      { ...start, sessionId: "alice" },
      { ...start, clientIP: "not-an-ip" },
      { ...end, reason: "Bored" },
      { ...open, flow: { ...flow, bytesIn: -1 } },
      { ...open, flow: { ...flow, kind: "smtp" } },
      { ...start, workload: { namespace: "Shop", pod: "web-0" } },
      { ...start, time: Number.NaN },
    ];
    for (const b of bad) expect(auditEventSchema.safeParse(b).success, JSON.stringify(b)).toBe(false);
  });

  it("gives every finding code its own event type and code, carries the finding whole, and maps it back unchanged", () => {
    const events = everyFinding().map((f) => build.sessionFinding(W, f));
    expect(events.map((e) => [e.finding.code, e.event, e.code, e.outcome])).toEqual([
      ["SESSION_NETWORK_CHANGED", "protection.network_changed", "VP001W", "success"],
      ["SESSION_DEVICE_CHANGED", "protection.device_changed", "VP002W", "failure"],
      ["SESSION_IMPOSSIBLE_TRAVEL", "protection.impossible_travel", "VP003W", "failure"],
      ["SESSION_NEW_COUNTRY", "protection.new_country", "VP004I", "success"],
      ["SESSION_LIMIT_EXCEEDED", "protection.limit_exceeded", "VP005W", "failure"],
    ]);
    for (const [i, e] of events.entries()) {
      const parsed = auditEventSchema.parse({ ...e, cid: CID });
      expect(parsed).toMatchObject({ finding: e.finding });
      expect(findingOfEvent(e)).toEqual(everyFinding()[i]);
    }
    expect(Object.keys(FINDING_EVENTS).sort()).toEqual(
      everyFinding()
        .map((f) => f.code)
        .sort(),
    );
  });

  it("refuses a finding event whose finding is another code's, or whose evidence is not evidence", () => {
    const [network, device] = everyFinding().map((f) => ({ ...build.sessionFinding(W, f), cid: CID }));
    const bad: unknown[] = [
      { ...network, finding: { ...device?.finding } },
      { ...network, code: "VP002W" },
      { ...network, finding: { ...network?.finding, evidence: { kind: "network", granularity: "Postcode", bound: "a", observed: "b" } } },
      { ...network, finding: { ...network?.finding, mode: "Off" } },
      {
        ...device,
        finding: { ...device?.finding, evidence: { kind: "device", changed: new Array(7).fill({ component: "Browser", bound: "a", observed: "b" }) } },
      },
      { ...build.sessionLocated(W, SID, { country: "SG" }, T), cid: CID, location: { asn: -1 } },
    ];
    for (const b of bad) expect(auditEventSchema.safeParse(b).success, JSON.stringify(b).slice(0, 120)).toBe(false);
  });

  it("keeps the valid events of a batch and counts the invalid ones; refuses what is not a batch", () => {
    const [start, activity] = everyEvent() as [AuditEvent, AuditEvent];
    const parsed = parseAuditBatch({ v: 1, events: [start, { event: "session.start" }, activity, 42] });
    expect(parsed).toMatchObject({ ok: true, invalid: 2 });
    if (parsed.ok) expect(parsed.events.map((e) => e.event)).toEqual(["session.start", "session.activity"]);
    for (const notBatch of [null, [], { v: 2, events: [start] }, { v: 1, events: [] }, { v: 1, events: new Array(257).fill(start) }]) {
      expect(parseAuditBatch(notBatch).ok, JSON.stringify(notBatch).slice(0, 40)).toBe(false);
    }
  });
});

describe("the log form", () => {
  it("never carries the session id, email, group names, client IP, peer address or user agent; keeps the correlation id and the group count", () => {
    for (const e of everyEvent()) {
      const line = JSON.stringify(auditLogFields(e));
      const evidence = ["203.0.113.0", "198.51.100.0", "Chrome", "Firefox", "Singapore", "Melbourne", "SG", "AU", "103.85", "Example Net", "64500", OTHER_SID];
      for (const personal of [SID, "alice@example.test", "engineers", "203.0.113.7", "2001:db8::1", "198.51.100.1", "curl/8", ...evidence])
        expect(line, `${e.event}: ${personal}`).not.toContain(personal);
      expect(auditLogFields(e)).toMatchObject({ event: e.event, code: e.code, workload: "shop/web-0" });
      if ("cid" in e) expect(auditLogFields(e)["cid"]).toBe(CID);
    }
    expect(auditLogFields(everyEvent()[0] as AuditEvent)).toMatchObject({ issuer: who.issuer, subject: "alice", groupCount: 1 });
  });

  it("keeps a finding's codes, mode, action, policy and the evidence's numbers and component names", () => {
    const [network, device, travel, , limit] = everyFinding().map((f) => auditLogFields(build.sessionFinding(W, f)));
    expect(network).toMatchObject({
      code: "VP001W",
      finding: "SESSION_NETWORK_CHANGED",
      mode: "Audit",
      action: "recorded",
      policy: "shop/web",
      evidence: "network",
      granularity: "Prefix",
    });
    expect(device).toMatchObject({ finding: "SESSION_DEVICE_CHANGED", action: "refused", outcome: "failure", evidence: "device", components: "Browser" });
    expect(travel).toMatchObject({ finding: "SESSION_IMPOSSIBLE_TRAVEL", effectiveDistanceKm: 6031, elapsedSeconds: 3600, speedKmh: 6031, maxSpeedKmh: 1000 });
    expect(limit).toMatchObject({ finding: "SESSION_LIMIT_EXCEEDED", limit: 2, live: 3, onExceed: "EndOldest", ended: 1 });
  });
});

describe("audit stream entries", () => {
  it("parses o/i/s/d and refuses anything else", () => {
    expect(parseAuditEntry(["o", "shop/web-0", "i", "0123456789abcdef", "s", "7", "d", "v1.x"])).toMatchObject({
      ok: true,
      entry: { namespace: "shop", pod: "web-0", sequence: 7 },
    });
    for (const fields of [
      ["o", "shop/web-0", "i", "0123456789abcdef", "s", "7"],
      ["o", "shop", "i", "0123456789abcdef", "s", "7", "d", "x"],
      ["o", "shop/web-0", "i", "XYZ", "s", "7", "d", "x"],
      ["o", "shop/web-0", "i", "0123456789abcdef", "s", "0", "d", "x"],
      ["o", "shop/web-0", "i", "0123456789abcdef", "s", "7", "d", ""],
      ["m", "hello", "x", "y", "z", "w", "a", "b"],
    ]) {
      expect(parseAuditEntry(fields).ok, fields.join(" ")).toBe(false);
    }
  });
});

describe("operator events", () => {
  it("name a valid Kubernetes Event reason, Normal for info codes and Warning otherwise, as the operator records them", async () => {
    const { isEventReason } = await import("../../../../operator/kube/events.ts");
    const kube = Object.entries(AUDIT_CATALOGUE).filter(([, e]) => "k8sReason" in e);
    expect(kube.map(([t]) => t).sort()).toEqual([
      "bus.rebuilt",
      "bus.unavailable",
      "policy.published",
      "policy.rejected",
      "termination.completed",
      "termination.failed",
      "termination.invalid_target",
      "termination.published",
    ]);
    for (const [, e] of kube) expect(isEventReason((e as { k8sReason: string }).k8sReason)).toBe(true);
  });
});
