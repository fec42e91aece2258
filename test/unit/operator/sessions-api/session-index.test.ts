import { describe, expect, it } from "vitest";
import { SessionIndex, type IndexEvent } from "../../../../operator/sessions-api/index/session-index.ts";
import { seenAt, sid, T0 } from "./builders.ts";

function indexAt(start = T0, options: ConstructorParameters<typeof SessionIndex>[0] = {}) {
  const clock = { now: start };
  const index = new SessionIndex({ now: () => clock.now, rvBase: 1000, ...options });
  const events: IndexEvent[] = [];
  index.subscribe((e) => events.push(e));
  return { index, clock, events };
}

describe("SessionIndex", () => {
  it("creates one object per namespace a session touched, each with that namespace's part only", () => {
    const { index } = indexAt();
    expect(index.upsertSession(seenAt(sid(1), "shop", T0))).toBe(true);
    expect(index.upsertSession(seenAt(sid(1), "web", T0 + 10, { workload: { namespace: "web", pod: "api-0" }, clientIP: "203.0.113.9" }))).toBe(true);
    const shop = index.get("shop", sid(1));
    const web = index.get("web", sid(1));
    expect(shop?.workloads.map((w) => w.pod)).toEqual(["web-0"]);
    expect(web?.workloads.map((w) => w.pod)).toEqual(["api-0"]);
    expect(shop?.lastIP).toBe("203.0.113.9"); // session-wide
    expect(shop?.firstIP).toBe("203.0.113.7");
    expect(index.namespaces()).toEqual(["shop", "web"]);
    expect(index.count("")).toBe(2);
    expect(index.stats().sessions).toBe(1);
  });

  it("issues increasing resource versions from rvBase and publishes ADDED, then MODIFIED, to every namespace a session-wide change touches", () => {
    const { index, events } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(1), "web", T0 + 1, { workload: { namespace: "web", pod: "api-0" } }));
    index.upsertSession(seenAt(sid(1), "shop", T0 + 2, { clientIP: "198.51.100.1" }));
    expect(events.map((e) => [e.type, e.namespace, e.rv])).toEqual([
      ["ADDED", "shop", 1001],
      ["ADDED", "web", 1002],
      ["MODIFIED", "shop", 1003],
      ["MODIFIED", "web", 1004],
    ]);
    expect(index.resourceVersion).toBe(1004);
    expect(index.get("web", sid(1))?.metadata.resourceVersion).toBe("1004");
  });

  it("does not let an older observation move the last IP back, and keeps the earliest start", () => {
    const { index } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0 + 100, { clientIP: "198.51.100.2" }));
    index.upsertSession(seenAt(sid(1), "shop", T0 + 50, { clientIP: "198.51.100.1", startTime: T0 }));
    const s = index.get("shop", sid(1));
    expect(s?.lastIP).toBe("198.51.100.2");
    expect(s?.startTime).toBe(new Date(T0).toISOString());
  });

  it("tracks live flows with their bytes, and closed ones as totals", () => {
    const { index } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    const flow = {
      sessionId: sid(1),
      workload: { namespace: "shop", pod: "web-0" },
      flowId: "7",
      kind: "tunnel" as const,
      peer: "203.0.113.7:5000",
      port: 22,
      bytesIn: 10,
      bytesOut: 20,
      openedAt: T0,
    };
    expect(index.upsertFlow(flow)).toBe(true);
    expect(index.upsertFlow({ ...flow, bytesIn: 100, bytesOut: 200 })).toBe(true);
    expect(index.get("shop", sid(1))?.flows).toEqual([
      { id: "7", kind: "tunnel", pod: "web-0", peer: "203.0.113.7:5000", port: 22, bytesIn: 100, bytesOut: 200, openedAt: new Date(T0).toISOString() },
    ]);
    expect(index.closeFlow({ sessionId: sid(1), workload: flow.workload, flowId: "7", bytesIn: 150, bytesOut: 250, closedAt: T0 + 5 })).toBe(true);
    const s = index.get("shop", sid(1));
    expect(s?.flows).toEqual([]);
    expect(s?.closedFlows).toEqual({ count: 1, bytesIn: 150, bytesOut: 250 });
  });

  it("ends a session everywhere: state Ended, live flows closed, the first end reason kept", () => {
    const { index, events } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(1), "web", T0, { workload: { namespace: "web", pod: "a" } }));
    index.upsertFlow({
      sessionId: sid(1),
      workload: { namespace: "shop", pod: "web-0" },
      flowId: "1",
      kind: "websocket",
      peer: "p",
      port: 80,
      bytesIn: 5,
      bytesOut: 6,
      openedAt: T0,
    });
    events.length = 0;
    expect(index.endSession({ sessionId: sid(1), time: T0 + 9, reason: "Terminated", detail: "SessionTermination shop/x" })).toBe(true);
    expect(index.endSession({ sessionId: sid(1), time: T0 + 10, reason: "IdleTimeout" })).toBe(true);
    for (const ns of ["shop", "web"]) {
      const s = index.get(ns, sid(1));
      expect(s?.state).toBe("Ended");
      expect(s?.endReason).toBe("Terminated: SessionTermination shop/x");
    }
    expect(index.get("shop", sid(1))?.closedFlows).toEqual({ count: 1, bytesIn: 5, bytesOut: 6 });
    expect(events.map((e) => [e.type, e.namespace])).toEqual([
      ["MODIFIED", "shop"],
      ["MODIFIED", "web"],
    ]);
    expect(
      index.upsertFlow({
        sessionId: sid(1),
        workload: { namespace: "shop", pod: "web-0" },
        flowId: "2",
        kind: "http",
        peer: "p",
        port: 80,
        bytesIn: 0,
        bytesOut: 0,
        openedAt: T0 + 20,
      }),
    ).toBe(false);
  });

  it("keeps the last events per namespace; session-wide events go to every namespace", () => {
    const { index } = indexAt(T0, { maxEventsPerPart: 2 });
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(1), "web", T0, { workload: { namespace: "web", pod: "a" } }));
    for (const code of ["A", "B", "C"])
      index.recordEvent({ sessionId: sid(1), workload: { namespace: "shop", pod: "web-0" }, time: T0, type: "request.refused", code, outcome: "failure" });
    index.recordEvent({ sessionId: sid(1), time: T0, type: "session.revoked", code: "R", outcome: "success" });
    expect(index.get("shop", sid(1))?.recentEvents.map((e) => e.code)).toEqual(["C", "R"]);
    expect(index.get("web", sid(1))?.recentEvents.map((e) => e.code)).toEqual(["R"]);
  });

  it("turns Idle without flows or activity (published by the sweep) and Active again on activity", () => {
    const { index, clock, events } = indexAt(T0, { idleAfterMs: 60_000 });
    index.upsertSession(seenAt(sid(1), "shop", T0));
    clock.now = T0 + 61_000;
    expect(index.get("shop", sid(1))?.state).toBe("Active"); // published state, until the sweep
    expect(index.sweep()).toEqual({ removed: 0, changed: 1 });
    expect(index.get("shop", sid(1))?.state).toBe("Idle");
    expect(events.at(-1)?.type).toBe("MODIFIED");
    expect(index.sweep()).toEqual({ removed: 0, changed: 0 });
    index.upsertSession(seenAt(sid(1), "shop", clock.now));
    expect(index.get("shop", sid(1))?.state).toBe("Active");
  });

  it("drops ended sessions after the retention, and sessions without activity for as long", () => {
    const { index, clock, events } = indexAt(T0, { retentionMs: 3_600_000 });
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(2), "shop", T0));
    index.endSession({ sessionId: sid(1), time: T0 + 1000, reason: "IdleTimeout" });
    clock.now = T0 + 3_600_500;
    expect(index.sweep().removed).toBe(1); // sid(2): inactive for more than the retention
    expect(index.get("shop", sid(2))).toBeUndefined();
    expect(index.get("shop", sid(1))?.state).toBe("Ended");
    clock.now = T0 + 3_601_500;
    expect(index.sweep().removed).toBe(1);
    expect(index.count("")).toBe(0);
    expect(index.namespaces()).toEqual([]);
    expect(events.filter((e) => e.type === "DELETED").map((e) => e.name)).toEqual([sid(2), sid(1)]);
  });

  it("marks parts stale while a reporting sidecar is silent, never an ended session", () => {
    const { index } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(2), "shop", T0, { workload: { namespace: "shop", pod: "other" } }));
    expect(index.markSidecarStale({ namespace: "shop", pod: "web-0" })).toBe(1);
    expect(index.markSidecarStale({ namespace: "shop", pod: "web-0" })).toBe(0);
    expect(index.get("shop", sid(1))).toMatchObject({ stale: true, workloads: [{ pod: "web-0", stale: true }] });
    expect(index.get("shop", sid(2))?.stale).toBe(false);
    expect(index.fields("shop", sid(1))?.stale).toBe(true);
    index.endSession({ sessionId: sid(1), time: T0 + 1, reason: "AbsoluteTimeout" });
    expect(index.get("shop", sid(1))?.stale).toBe(false);
    expect(index.markSidecarLive({ namespace: "shop", pod: "web-0" })).toBe(0);
  });

  it("deletes an object from its namespace only, keeps serving it elsewhere, and serves it again when the session is active there later", () => {
    const { index, events } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(1), "web", T0, { workload: { namespace: "web", pod: "a" } }));
    events.length = 0;
    const deleted = index.deleteObject("shop", sid(1), { sessionTermination: "vs-delete-1", user: "jane", time: T0 + 10 });
    expect(deleted?.terminationRequested).toEqual({ sessionTermination: "vs-delete-1", user: "jane", time: new Date(T0 + 10).toISOString() });
    expect(events.map((e) => [e.type, e.namespace])).toEqual([["DELETED", "shop"]]);
    expect(index.get("shop", sid(1))).toBeUndefined();
    expect(index.idsIn("shop")).toEqual([]);
    expect(index.get("web", sid(1))).toBeDefined();
    // Late reports of what happened before the delete stay hidden; activity after it brings the object back.
    index.upsertSession(seenAt(sid(1), "shop", T0 + 5));
    index.endSession({ sessionId: sid(1), time: T0 + 11, reason: "Terminated" });
    expect(index.get("shop", sid(1))).toBeUndefined();
    expect(events.map((e) => [e.type, e.namespace])).toEqual([
      ["DELETED", "shop"],
      ["MODIFIED", "web"],
    ]);
    index.upsertSession(seenAt(sid(2), "shop", T0));
    index.deleteObject("shop", sid(2), { sessionTermination: "vs-delete-2", user: "jane", time: T0 + 10 });
    index.upsertSession(seenAt(sid(2), "shop", T0 + 60_000));
    expect(events.at(-1)?.type).toBe("ADDED");
    expect(index.get("shop", sid(2))?.terminationRequested?.user).toBe("jane");
    expect(index.deleteObject("shop", sid(9), { sessionTermination: undefined, user: "x", time: T0 })).toBeUndefined();
  });

  it("refuses and counts records it cannot use, never throwing", () => {
    const { index } = indexAt();
    const bad: unknown[] = [
      null,
      {},
      { ...seenAt("s_short", "shop", T0) },
      { ...seenAt(sid(1), "Not-A-Namespace", T0) },
      { ...seenAt(sid(1), "shop", T0), clientIP: "x" },
      { ...seenAt(sid(1), "shop", T0), time: Number.NaN },
    ];
    for (const b of bad) expect(index.upsertSession(b as never)).toBe(false);
    expect(
      index.upsertFlow({
        sessionId: sid(5),
        workload: { namespace: "shop", pod: "p" },
        flowId: "1",
        kind: "http",
        peer: "p",
        port: 1,
        bytesIn: 0,
        bytesOut: 0,
        openedAt: T0,
      }),
    ).toBe(false);
    expect(index.upsertFlow({ kind: "udp" } as never)).toBe(false);
    expect(index.endSession({ sessionId: sid(5), time: T0, reason: "x" })).toBe(false);
    expect(index.markSidecarStale({ namespace: "", pod: "" })).toBe(0);
    const rejected = index.stats().rejected;
    expect(Object.values(rejected).reduce((a, b) => a + b, 0)).toBe(10);
    expect(rejected["flow: unknown session"]).toBe(1);
    expect(index.count("")).toBe(0);
  });

  it("bounds what one session can hold: groups, claims, text, workloads and flows", () => {
    const { index } = indexAt(T0, { maxWorkloadsPerPart: 2, maxFlowsPerPart: 1 });
    const groups = Array.from({ length: 100 }, (_, i) => `g${i}`);
    index.upsertSession(seenAt(sid(1), "shop", T0, { identity: { issuer: "i", subject: "s", groups }, userAgent: "u".repeat(5000) }));
    const s = index.get("shop", sid(1));
    expect(s?.identity.groups).toHaveLength(64);
    expect(s?.userAgent).toHaveLength(512);
    for (const pod of ["a", "b", "c"]) index.upsertSession(seenAt(sid(1), "shop", T0, { workload: { namespace: "shop", pod } }));
    expect(index.get("shop", sid(1))?.workloads).toHaveLength(2);
    const flow = (id: string) => ({
      sessionId: sid(1),
      workload: { namespace: "shop", pod: "web-0" },
      flowId: id,
      kind: "http" as const,
      peer: "p",
      port: 1,
      bytesIn: 0,
      bytesOut: 0,
      openedAt: T0,
    });
    expect(index.upsertFlow(flow("1"))).toBe(true);
    expect(index.upsertFlow(flow("2"))).toBe(false);
  });

  it("hands out the changes after a resource version, and says when they left the window or were never its own", () => {
    const { index } = indexAt(T0, { eventLogSize: 3 });
    for (let i = 1; i <= 5; i++) index.upsertSession(seenAt(sid(i), "shop", T0));
    expect(index.resourceVersion).toBe(1005);
    const since = index.eventsSince(1003);
    expect(Array.isArray(since) && since.map((e) => e.rv)).toEqual([1004, 1005]);
    const fromWindowStart = index.eventsSince(1002); // 1003..1005 still in the window
    expect(Array.isArray(fromWindowStart) && fromWindowStart.map((e) => [e.type, e.rv])).toEqual([
      ["ADDED", 1003],
      ["ADDED", 1004],
      ["ADDED", 1005],
    ]);
    expect(index.eventsSince(1001)).toBe("expired");
    expect(index.eventsSince(999)).toBe("unknown");
    expect(index.eventsSince(2000)).toBe("unknown");
    expect(index.eventsSince(1005)).toEqual([]);
  });

  it("replays one event per object with its current state: created → ADDED, changed → MODIFIED, deleted → DELETED, both → nothing", () => {
    const { index } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(2), "shop", T0));
    const rv = index.resourceVersion;
    index.upsertSession(seenAt(sid(1), "shop", T0 + 1, { clientIP: "198.51.100.1" })); // changed
    index.upsertSession(seenAt(sid(3), "shop", T0 + 1)); // created
    index.upsertSession(seenAt(sid(3), "shop", T0 + 2, { clientIP: "198.51.100.3" })); // … and changed
    index.upsertSession(seenAt(sid(4), "shop", T0 + 1)); // created …
    index.deleteObject("shop", sid(4), { sessionTermination: undefined, user: "u", time: T0 + 2 }); // … and deleted
    index.deleteObject("shop", sid(2), { sessionTermination: "t", user: "u", time: T0 + 2 }); // deleted
    const replay = index.eventsSince(rv);
    if (!Array.isArray(replay)) throw new Error(replay);
    expect(replay.map((e) => [e.type, e.name])).toEqual([
      ["MODIFIED", sid(1)],
      ["ADDED", sid(3)],
      ["DELETED", sid(2)],
    ]);
    expect(replay[1]?.object().lastIP).toBe("198.51.100.3");
    expect(replay[1]?.object().metadata.resourceVersion).toBe(String(replay[1]?.rv));
    expect(replay[0]?.prev?.clientIPs).toEqual(["203.0.113.7"]);
    expect(replay[2]?.object().terminationRequested?.sessionTermination).toBe("t");
  });

  it("shares one identity object between one user's sessions", () => {
    const { index } = indexAt();
    index.upsertSession(seenAt(sid(1), "shop", T0));
    index.upsertSession(seenAt(sid(2), "shop", T0));
    expect(index.get("shop", sid(1))?.identity).toBe(index.get("shop", sid(2))?.identity);
  });
});
