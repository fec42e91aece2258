import { describe, expect, it } from "vitest";
import type { Ack } from "../../../../operator/api/bus/messages.ts";
import {
  decodePlan,
  encodePlan,
  makePlan,
  revocationLifetimeMs,
  terminationProgress,
  terminationSelector,
  type TerminationPlan,
} from "../../../../operator/controller/termination-plan.ts";
import { desiredTerminationStatus, invalidTargetStatus, pendingStatus } from "../../../../operator/controller/termination-status.ts";

const HOUR = 3_600_000;
const start = Date.parse("2026-01-02T03:00:00Z");

function ackFrom(pod: string, sessions = 1, connections = 2): Ack {
  return { v: 2, terminationId: "team/cut/uid", pod, namespace: "team", sessionsTerminated: sessions, connectionsClosed: connections, at: start };
}

const plan = (expected: string[]): TerminationPlan => ({ v: 1, startedAt: start, expiresAt: start + 8 * HOUR, expected });

describe("termination target", () => {
  it("resolves each kind of target to the bus selector", () => {
    expect(terminationSelector({ sessionID: "s_AAAAAAAAAAAAAAAAAAAAAA" })).toEqual({
      ok: true,
      selector: { kind: "session", sessionId: "s_AAAAAAAAAAAAAAAAAAAAAA" },
    });
    expect(terminationSelector({ subject: "u1" })).toEqual({ ok: true, selector: { kind: "subject", subject: "u1" } });
    expect(terminationSelector({ subject: "u1", issuer: "https://idp" })).toEqual({
      ok: true,
      selector: { kind: "subject", subject: "u1", issuer: "https://idp" },
    });
    expect(terminationSelector({ email: "Alice@Example.com" })).toEqual({ ok: true, selector: { kind: "email", email: "alice@example.com" } });
    expect(terminationSelector({ group: "contractors" })).toEqual({ ok: true, selector: { kind: "group", group: "contractors" } });
    expect(terminationSelector({ allSessions: true })).toEqual({ ok: true, selector: { kind: "all" } });
  });

  it("refuses no target, two targets, or an issuer without a subject", () => {
    expect(terminationSelector(undefined).ok).toBe(false);
    expect(terminationSelector({}).ok).toBe(false);
    expect(terminationSelector({ email: "a@b.c", group: "g" }).ok).toBe(false);
    expect(terminationSelector({ group: "g", issuer: "https://idp" }).ok).toBe(false);
  });
});

describe("revocation lifetime", () => {
  it("revokeFor wins", () => {
    expect(revocationLifetimeMs("12h", [24 * 3600])).toBe(12 * HOUR);
  });
  it("else the longest absolute session timeout of the namespace's policies", () => {
    expect(revocationLifetimeMs(undefined, [3600, 10 * 3600, 7200])).toBe(10 * HOUR);
  });
  it("else 8 hours", () => {
    expect(revocationLifetimeMs(undefined, [])).toBe(8 * HOUR);
  });
});

describe("termination plan", () => {
  it("round-trips through its annotation, with the expected pods sorted and unique", () => {
    const made = makePlan(start, start + HOUR, ["web-1", "web-0", "web-1"]);
    expect(made).toEqual({ v: 1, startedAt: start, expiresAt: start + HOUR, expected: ["web-0", "web-1"] });
    expect(decodePlan(encodePlan(made))).toEqual(made);
  });
  it("a missing or malformed annotation is no plan", () => {
    for (const raw of [
      undefined,
      "",
      "{",
      "null",
      "[]",
      '{"v":2,"startedAt":1,"expiresAt":2,"expected":[]}',
      '{"v":1,"startedAt":5,"expiresAt":2,"expected":[]}',
      '{"v":1,"startedAt":1,"expiresAt":2,"expected":[3]}',
    ]) {
      expect(decodePlan(raw)).toBeUndefined();
    }
  });
  it("refuses times that are not safe non-negative integers and pod names out of bounds, and drops unknown fields", () => {
    for (const plan of [
      { v: 1, startedAt: -1, expiresAt: 2, expected: [] },
      { v: 1, startedAt: 1, expiresAt: 2 ** 60, expected: [] },
      { v: 1, startedAt: 1.5, expiresAt: 2, expected: [] },
      { v: 1, startedAt: 1, expiresAt: 2, expected: [""] },
      { v: 1, startedAt: 1, expiresAt: 2, expected: ["p".repeat(254)] },
    ]) {
      expect(decodePlan(JSON.stringify(plan))).toBeUndefined();
    }
    expect(decodePlan(JSON.stringify({ v: 1, startedAt: 1, expiresAt: 2, expected: ["web-0"], extra: true }))).toEqual({
      v: 1,
      startedAt: 1,
      expiresAt: 2,
      expected: ["web-0"],
    });
  });
});

describe("termination progress", () => {
  it("completes when every expected sidecar acknowledged, summing the counts", () => {
    const p = terminationProgress({
      plan: plan(["a", "b"]),
      now: start + 100,
      timeoutMs: 30_000,
      acks: [ackFrom("a", 1, 2), ackFrom("b", 3, 4)],
      live: new Set(["a", "b"]),
    });
    expect(p).toMatchObject({ phase: "Completed", acknowledged: 2, expected: 2, sessionsTerminated: 4, connectionsClosed: 6, waitingFor: [] });
  });
  it("keeps propagating while a live expected sidecar is silent and the timeout has not passed", () => {
    const p = terminationProgress({ plan: plan(["a", "b"]), now: start + 1000, timeoutMs: 30_000, acks: [ackFrom("a")], live: new Set(["a", "b"]) });
    expect(p).toMatchObject({ phase: "Propagating", acknowledged: 1, waitingFor: ["b"], remainingMs: 29_000 });
  });
  it("fails after the timeout naming the silent sidecars", () => {
    const p = terminationProgress({
      plan: plan(["a", "b", "c"]),
      now: start + 30_000,
      timeoutMs: 30_000,
      acks: [ackFrom("a")],
      live: new Set(["a", "b", "c"]),
    });
    expect(p).toMatchObject({ phase: "Failed", waitingFor: ["b", "c"] });
  });
  it("does not wait for an expected sidecar whose heartbeat stopped", () => {
    const p = terminationProgress({ plan: plan(["a", "gone"]), now: start + 10, timeoutMs: 30_000, acks: [ackFrom("a")], live: new Set(["a"]) });
    expect(p).toMatchObject({ phase: "Completed", gone: ["gone"], acknowledged: 1, expected: 2 });
  });
  it("with no sidecar in scope it completes at once with zero counts", () => {
    expect(terminationProgress({ plan: plan([]), now: start, timeoutMs: 30_000, acks: [], live: new Set() })).toMatchObject({
      phase: "Completed",
      sessionsTerminated: 0,
    });
  });
});

describe("termination status", () => {
  const now = new Date(start + 5000);
  it("Propagating carries the start time, revision and counts; Completed adds the completion time", () => {
    const progress = terminationProgress({ plan: plan(["a", "b"]), now: start + 10, timeoutMs: 30_000, acks: [ackFrom("a")], live: new Set(["a", "b"]) });
    const propagating = desiredTerminationStatus(undefined, { namespace: "team", generation: 1, busRevision: 9, startedAt: start, progress }, now);
    expect(propagating).toMatchObject({
      phase: "Propagating",
      busRevision: 9,
      sidecarsAcknowledged: 1,
      sidecarsExpected: 2,
      startTime: "2026-01-02T03:00:00Z",
    });
    expect(propagating.completionTime).toBeUndefined();
    const done = terminationProgress({
      plan: plan(["a", "b"]),
      now: start + 10,
      timeoutMs: 30_000,
      acks: [ackFrom("a"), ackFrom("b")],
      live: new Set(["a", "b"]),
    });
    const completed = desiredTerminationStatus(propagating, { namespace: "team", generation: 1, busRevision: 9, startedAt: start, progress: done }, now);
    expect(completed).toMatchObject({ phase: "Completed", sessionsTerminated: 2, connectionsClosed: 4, completionTime: "2026-01-02T03:00:05Z" });
    expect(completed.conditions?.[0]).toMatchObject({ type: "Ready", status: "True", reason: "AllAcknowledged" });
  });

  it("Failed lists the unresponsive sidecars as namespace/pod", () => {
    const progress = terminationProgress({ plan: plan(["a", "b"]), now: start + 60_000, timeoutMs: 30_000, acks: [ackFrom("a")], live: new Set(["a", "b"]) });
    const failed = desiredTerminationStatus(undefined, { namespace: "team", generation: 1, busRevision: 9, startedAt: start, progress }, now);
    expect(failed).toMatchObject({ phase: "Failed", unresponsiveSidecars: ["team/b"] });
    expect(failed.conditions?.[0]).toMatchObject({ reason: "AcknowledgementTimeout", status: "False" });
  });

  it("a finished termination never changes again (finishes exactly once)", () => {
    const progress = terminationProgress({ plan: plan([]), now: start, timeoutMs: 30_000, acks: [], live: new Set() });
    const completed = desiredTerminationStatus(undefined, { namespace: "team", generation: 1, busRevision: 9, startedAt: start, progress }, now);
    const later = terminationProgress({ plan: plan(["x"]), now: start + 99_000, timeoutMs: 30_000, acks: [], live: new Set(["x"]) });
    expect(
      desiredTerminationStatus(completed, { namespace: "team", generation: 1, busRevision: 10, startedAt: start, progress: later }, new Date(start + 99_000)),
    ).toBe(completed);
    expect(pendingStatus(completed, 1, "BusUnavailable", "down", now)).toBe(completed);
    expect(invalidTargetStatus(completed, 1, "bad", now)).toBe(completed);
  });

  it("Pending says why it is not published yet", () => {
    const pending = pendingStatus(undefined, 1, "BusUnavailable", "the policy bus (Redis) is unavailable", now);
    expect(pending).toMatchObject({ phase: "Pending" });
    expect(pending.conditions?.[0]).toMatchObject({ type: "Ready", status: "False", reason: "BusUnavailable" });
  });
});
