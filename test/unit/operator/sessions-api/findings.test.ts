import { describe, expect, it } from "vitest";
import type { SessionFinding } from "../../../../operator/api/protections/findings.ts";
import { SessionIndex } from "../../../../operator/sessions-api/index/session-index.ts";
import { seenAt, sid, T0 } from "./builders.ts";

const finding = (over: Partial<SessionFinding> = {}): SessionFinding => ({
  v: 1,
  code: "SESSION_NETWORK_CHANGED",
  sessionId: sid(1),
  namespace: "shop",
  pod: "web-0",
  time: T0 + 1000,
  mode: "Audit",
  outcome: "recorded",
  policy: "shop/web",
  evidence: { kind: "network", granularity: "Prefix", bound: "203.0.113.0/24", observed: "198.51.100.0/24" },
  ...over,
});

describe("findings and locations in the sessions index", () => {
  it("shows a finding with its evidence on the session in the finding's namespace, and the location session-wide", () => {
    const index = new SessionIndex({ now: () => T0 });
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(1), "billing", T0));
    expect(index.recordFinding(finding())).toBe(true);
    expect(index.locate({ sessionId: sid(1), time: T0 + 1000, location: { country: "SG", city: "Singapore", asn: 64500 } })).toBe(true);
    const shop = index.get("shop", sid(1))!;
    expect(shop.findings).toEqual([
      {
        time: new Date(T0 + 1000).toISOString(),
        code: "SESSION_NETWORK_CHANGED",
        mode: "Audit",
        outcome: "recorded",
        pod: "web-0",
        policy: "shop/web",
        evidence: finding().evidence,
      },
    ]);
    expect(shop.location).toEqual({ country: "SG", city: "Singapore", asn: 64500 });
    expect(index.get("billing", sid(1))?.findings).toEqual([]);
    expect(index.get("billing", sid(1))?.location).toEqual({ country: "SG", city: "Singapore", asn: 64500 });
  });

  it("refuses malformed findings and locations (counted), never throws", () => {
    const index = new SessionIndex({ now: () => T0 });
    index.upsertSession(seenAt(sid(1), "shop", T0));
    expect(index.recordFinding({ ...finding(), code: "WHATEVER" } as never)).toBe(false);
    expect(index.recordFinding({ ...finding(), evidence: { kind: "network", bound: "x".repeat(1000) } } as never)).toBe(false);
    expect(index.locate({ sessionId: sid(1), time: T0, location: { asn: -1 } })).toBe(false);
    expect(index.locate({ sessionId: sid(9), time: T0, location: { country: "SG" } })).toBe(false);
    const rejected = Object.entries(index.stats().rejected);
    expect(rejected.filter(([k]) => k.startsWith("finding")).reduce((n, [, v]) => n + v, 0)).toBe(2);
    expect(rejected.filter(([k]) => k.startsWith("location")).reduce((n, [, v]) => n + v, 0)).toBe(2);
  });
});
