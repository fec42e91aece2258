import { V1MicroTime } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { isEventReason, truncateUtf8 } from "../../../../operator/kube/events.ts";
import { nextRecord } from "../../../../operator/kube/leader-election.ts";

describe("event helpers", () => {
  it("accepts CamelCase reasons only", () => {
    expect(isEventReason("Published")).toBe(true);
    expect(isEventReason("BusUnavailable")).toBe(true);
    expect(isEventReason("published")).toBe(false);
    expect(isEventReason("Bus Unavailable")).toBe(false);
    expect(isEventReason("")).toBe(false);
  });

  it("cuts notes to a byte budget without splitting characters", () => {
    expect(truncateUtf8("short", 1024)).toBe("short");
    const cut = truncateUtf8("é".repeat(1000), 1024);
    expect(Buffer.byteLength(cut, "utf8")).toBeLessThanOrEqual(1024);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut).not.toContain("\uFFFD");
  });
});

describe("lease record (client-go semantics)", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");

  it("taking over from another holder sets acquireTime and counts a transition", () => {
    const r = nextRecord({ holderIdentity: "other", leaseTransitions: 3, acquireTime: new V1MicroTime(t0) }, "me", 15, t0 + 20_000);
    expect(r).toMatchObject({ holderIdentity: "me", leaseDurationSeconds: 15, leaseTransitions: 4 });
    expect(r.acquireTime.getTime()).toBe(t0 + 20_000);
    expect(r.renewTime.getTime()).toBe(t0 + 20_000);
  });

  it("renewing our own lease keeps acquireTime and transitions, moves renewTime", () => {
    const r = nextRecord({ holderIdentity: "me", leaseTransitions: 4, acquireTime: new V1MicroTime(t0) }, "me", 15, t0 + 2_000);
    expect(r.leaseTransitions).toBe(4);
    expect(r.acquireTime.getTime()).toBe(t0);
    expect(r.renewTime.getTime()).toBe(t0 + 2_000);
  });

  it("serialises times with microsecond precision as the API server requires", () => {
    expect(new V1MicroTime(t0).toISOString()).toBe("2026-01-01T00:00:00.000000Z");
  });
});
