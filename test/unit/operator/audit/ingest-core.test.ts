import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../../../operator/api/audit/events.ts";
import type { SessionFinding } from "../../../../operator/api/protections/findings.ts";
import { auditSubject } from "../../../../operator/api/audit/stream.ts";
import { applyAuditEvent } from "../../../../operator/audit/apply.ts";
import { ReporterLiveness } from "../../../../operator/audit/liveness.ts";
import { openAuditEntry, SequenceMemory } from "../../../../operator/audit/open-entry.ts";
import { SessionIndex } from "../../../../operator/sessions-api/index/session-index.ts";
import { correlationId, correlator } from "../../../../lib/correlation.ts";
import { createKeyRing, type KeyRing } from "../../../../lib/sealing.ts";
import * as build from "../../../../sidecar/audit/build.ts";
import { newRecord } from "../../../../sidecar/sessions/record.ts";
import { principal } from "../../../builders/principal.ts";

const ring = (key = randomBytes(32)): KeyRing => createKeyRing({ keys: [{ id: "k1", key }], primary: "k1" });
const W = { namespace: "shop", pod: "web-0" };
const SID = "s_AAAAAAAAAAAAAAAAAAAAAA";
const T = Date.now() - 10_000;
const INC = "0123456789abcdef";

function startEvent(workload = W): AuditEvent {
  const record = newRecord(
    SID,
    "key",
    principal(),
    { idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000 },
    { clientIp: "203.0.113.7", userAgent: "curl/8", workload: "shop/web-0", now: T },
  );
  return { ...build.sessionStart(workload, record, "203.0.113.7", T), cid: "c_BBBBBBBBBBBBBBBBBBBBBB" };
}

function entry(r: KeyRing, events: unknown[], seq = 1, origin = "shop/web-0", inc = INC): string[] {
  return ["o", origin, "i", inc, "s", String(seq), "d", r.for("audit").seal(auditSubject(origin, inc, seq), { v: 1, events })];
}

describe("opening audit stream entries", () => {
  const keys = ring();
  const sealer = keys.for("audit");

  it("opens an entry sealed for its origin, incarnation and sequence", () => {
    const opened = openAuditEntry(sealer, entry(keys, [startEvent()]), new SequenceMemory());
    expect(opened).toMatchObject({ ok: true, origin: "shop/web-0", invalid: 0 });
  });

  it("refuses tampered, moved, foreign-keyed, unsealed, replayed, invalid and foreign-workload entries with stable codes", () => {
    const memory = new SequenceMemory();
    const good = entry(keys, [startEvent()], 5);
    const sealed = good[7] ?? "";
    const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === "A" ? "B" : "A"}${sealed.slice(-2)}`;
    const parts = sealed.split(".");
    const ct = Buffer.from(parts[3] ?? "", "base64url");
    ct[0] = (ct[0] ?? 0) ^ 1;
    const flippedCt = [parts[0], parts[1], parts[2], ct.toString("base64url"), parts[4]].join(".");
    const cases: [string[], string][] = [
      [["o", "shop/web-0"], "AUDIT_ENTRY_MALFORMED"],
      [[...good.slice(0, 7), flipped], "AUDIT_ENTRY_UNDECRYPTABLE"],
      [[...good.slice(0, 7), flippedCt], "AUDIT_ENTRY_UNDECRYPTABLE"],
      [["o", "shop/web-1", ...good.slice(2)], "AUDIT_ENTRY_UNDECRYPTABLE"], // moved to another origin
      [[...good.slice(0, 5), "6", ...good.slice(6)], "AUDIT_ENTRY_UNDECRYPTABLE"], // moved to another sequence
      [entry(ring(), [startEvent()], 5), "AUDIT_ENTRY_UNDECRYPTABLE"], // another key ring
      [[...good.slice(0, 7), JSON.stringify({ v: 1, events: [startEvent()] })], "AUDIT_ENTRY_UNDECRYPTABLE"], // a rogue writer's plain JSON
      [entry(keys, [startEvent()], 1, "shop/web-0", "fedcba9876543210"), "ok"],
      [good, "ok"],
      [good, "AUDIT_ENTRY_REPLAYED"],
      [entry(keys, [startEvent()], 4), "AUDIT_ENTRY_REPLAYED"],
      [entry(keys, [], 6), "AUDIT_ENTRY_INVALID"],
      [entry(keys, [startEvent({ namespace: "bank", pod: "vault-0" })], 7), "AUDIT_ENTRY_FOREIGN"],
    ];
    for (const [fields, expected] of cases) {
      const opened = openAuditEntry(sealer, fields, memory);
      expect(opened.ok ? "ok" : opened.code, `${expected}: ${fields.join(" ").slice(0, 80)}`).toBe(expected);
    }
  });

  it("keeps the valid events of a batch and counts the invalid ones", () => {
    const opened = openAuditEntry(sealer, entry(keys, [startEvent(), { event: "session.start", code: "VS001I" }]), new SequenceMemory());
    expect(opened).toMatchObject({ ok: true, invalid: 1 });
  });
});

describe("applying audit events to the sessions index", () => {
  it("turns a session's events into its VigilSession: identity, flows with bytes, refusals, closed flows, end reason", () => {
    const index = new SessionIndex({ rvBase: 1 });
    const who = principal();
    const flow = { id: "c_ws", kind: "websocket" as const, peer: "203.0.113.7:50000", port: 8080, openedAt: T + 1, bytesIn: 0, bytesOut: 0 };
    const tunnel = { id: "c_tn", kind: "tunnel" as const, peer: "203.0.113.7:50001", port: 2222, openedAt: T + 2, bytesIn: 0, bytesOut: 0 };
    const events: AuditEvent[] = [
      startEvent(),
      build.sessionActivity(W, SID, who, { requests: 4, clientIP: "203.0.113.8", policy: "shop/web", rule: "engineers", lastAt: T + 3 }),
      build.flowOpen(W, SID, flow, T + 1),
      build.flowOpen(W, SID, tunnel, T + 2),
      build.flowProgress(W, SID, { ...flow, bytesIn: 100, bytesOut: 2000 }, T + 4),
      build.flowClose(W, SID, { ...tunnel, bytesIn: 30, bytesOut: 40 }, "Closed", T + 5),
      build.sessionRefused(
        W,
        SID,
        who,
        { clientIP: "203.0.113.8", flowKind: "http", refusal: { code: "DENIED_BY_RULE", status: 403, policy: "shop/web", rule: "no-admin" }, count: 3 },
        T + 6,
      ),
      build.accessRefused(W, { clientIP: "198.51.100.1", flowKind: "http", refusal: { code: "TOKEN_INVALID", status: 401 }, count: 1 }, T + 6),
    ];
    expect(events.map((e) => applyAuditEvent(index, e))).toEqual(["applied", "applied", "applied", "applied", "applied", "applied", "applied", "ignored"]);
    const live = index.get("shop", SID);
    expect(live).toMatchObject({
      identity: { subject: "alice", email: "alice@example.test", groups: ["engineers"] },
      state: "Active",
      firstIP: "203.0.113.7",
      lastIP: "203.0.113.8",
      requests: 4,
      admittedBy: [{ policy: "shop/web", rule: "engineers" }],
      flows: [{ id: "c_ws", kind: "websocket", port: 8080, bytesIn: 100, bytesOut: 2000 }],
      closedFlows: { count: 1, bytesIn: 30, bytesOut: 40 },
    });
    expect(live?.recentEvents.map((e) => e.code)).toEqual(["VS001I", "VF001I", "VF001I", "VF003I", "VS003W"]);
    expect(live?.recentEvents.at(-1)?.reason).toBe("DENIED_BY_RULE by shop/web/no-admin (http, 3 times)");

    // The termination: the flow is reset (its close reported first), then the session ends.
    applyAuditEvent(index, build.flowClose(W, SID, { ...flow, bytesIn: 150, bytesOut: 2500 }, "Terminated", T + 7));
    applyAuditEvent(index, build.sessionEnd(W, SID, "Terminated", T + 8, "SessionTermination shop/end-alice"));
    // A late close of a flow the end already counted is not counted twice.
    applyAuditEvent(index, build.flowClose(W, SID, { ...flow, bytesIn: 150, bytesOut: 2500 }, "Terminated", T + 9));
    expect(index.get("shop", SID)).toMatchObject({
      state: "Ended",
      endReason: "Terminated: SessionTermination shop/end-alice",
      flows: [],
      closedFlows: { count: 2, bytesIn: 180, bytesOut: 2540 },
    });
  });

  it("folds findings into the session's findings (with the evidence) and recent events (the finding in one line), and locations into its location", () => {
    const index = new SessionIndex({ rvBase: 1 });
    const base = { v: 1 as const, sessionId: SID, namespace: "shop", pod: "web-0", policy: "shop/web" };
    const network: SessionFinding = {
      ...base,
      time: T + 1,
      code: "SESSION_NETWORK_CHANGED",
      mode: "Audit",
      outcome: "recorded",
      evidence: { kind: "network", granularity: "Prefix", bound: "203.0.113.0/24", observed: "198.51.100.0/24" },
    };
    const device: SessionFinding = {
      ...base,
      time: T + 2,
      code: "SESSION_DEVICE_CHANGED",
      mode: "Enforce",
      outcome: "refused",
      evidence: {
        kind: "device",
        changed: [
          { component: "Browser", bound: "Chrome 140", observed: "Firefox 141" },
          { component: "OperatingSystem", bound: "macOS", observed: "Windows" },
        ],
      },
    };
    const events: AuditEvent[] = [
      startEvent(),
      build.sessionLocated(W, SID, { country: "SG", city: "Singapore", asn: 64500 }, T + 1),
      build.sessionFinding(W, network),
      build.sessionFinding(W, device),
    ];
    expect(events.map((e) => applyAuditEvent(index, e))).toEqual(["applied", "applied", "applied", "applied"]);
    const session = index.get("shop", SID);
    expect(session?.location).toEqual({ country: "SG", city: "Singapore", asn: 64500 });
    expect(session?.findings).toEqual([
      {
        time: new Date(T + 1).toISOString(),
        code: "SESSION_NETWORK_CHANGED",
        mode: "Audit",
        outcome: "recorded",
        pod: "web-0",
        policy: "shop/web",
        evidence: network.evidence,
      },
      {
        time: new Date(T + 2).toISOString(),
        code: "SESSION_DEVICE_CHANGED",
        mode: "Enforce",
        outcome: "refused",
        pod: "web-0",
        policy: "shop/web",
        evidence: device.evidence,
      },
    ]);
    expect(session?.recentEvents.slice(1)).toEqual([
      {
        time: new Date(T + 1).toISOString(),
        type: "protection.network_changed",
        code: "VP001W",
        outcome: "success",
        reason: "SESSION_NETWORK_CHANGED (Audit, recorded by shop/web): 203.0.113.0/24 → 198.51.100.0/24",
        pod: "web-0",
      },
      {
        time: new Date(T + 2).toISOString(),
        type: "protection.device_changed",
        code: "VP002W",
        outcome: "failure",
        reason: "SESSION_DEVICE_CHANGED (Enforce, refused by shop/web): Browser Chrome 140 → Firefox 141; OperatingSystem macOS → Windows",
        pod: "web-0",
      },
    ]);
    // A finding of a session the index never saw is rejected and counted, like any other event.
    expect(applyAuditEvent(index, build.sessionFinding(W, { ...network, sessionId: "s_ZZZZZZZZZZZZZZZZZZZZZZ" }))).toBe("rejected");
  });

  it("rejects (counted by the index) events of a session it never saw", () => {
    const index = new SessionIndex({ rvBase: 1 });
    expect(applyAuditEvent(index, build.sessionEnd(W, SID, "IdleTimeout", T))).toBe("rejected");
    expect(index.stats().rejected).toEqual({ "end: unknown session": 1 });
  });
});

describe("reporter liveness", () => {
  it("marks the pods that reported and stopped heartbeating stale, and live again once they heartbeat", () => {
    const index = new SessionIndex({ rvBase: 1 });
    applyAuditEvent(index, startEvent());
    const liveness = new ReporterLiveness();
    liveness.reported("shop", "web-0");
    expect(liveness.update(index, [{ namespace: "shop", pod: "web-0" }])).toBe(0);
    expect(index.get("shop", SID)?.stale).toBe(false);
    expect(liveness.update(index, [])).toBe(1);
    expect(index.get("shop", SID)).toMatchObject({ stale: true, state: "Active" });
    liveness.update(index, [{ namespace: "shop", pod: "web-0" }]);
    expect(index.get("shop", SID)?.stale).toBe(false);
  });
});

describe("correlation ids", () => {
  it("are the same for every holder of the ring, differ between rings and sessions, and do not contain the id", () => {
    const key = randomBytes(32);
    const [a, b] = [correlator(ring(key)), correlator(ring(key))];
    expect(a(SID)).toBe(b(SID));
    expect(a(SID)).toMatch(/^c_[A-Za-z0-9_-]{22}$/);
    expect(a(SID)).not.toBe(correlator(ring())(SID));
    expect(a(SID)).not.toBe(a("s_BBBBBBBBBBBBBBBBBBBBBA"));
    expect(a(SID)).toBe(correlationId(ring(key).derive("correlation"), SID));
  });
});
