import { describe, expect, it } from "vitest";
import { TERMINATION_PLAN_ANNOTATION } from "../../../../operator/api/annotations.ts";
import type { Ack } from "../../../../operator/api/bus/messages.ts";
import type { SessionTermination } from "../../../../operator/api/v1alpha1/index.ts";
import { revocationOf } from "../../../../operator/controller/session-termination.ts";
import { decodePlan, encodePlan } from "../../../../operator/controller/termination-plan.ts";
import { mayRaiseCounts } from "../../../../operator/controller/termination-status.ts";
import { LAST_APPLIED_ANNOTATION, terminationForCache } from "../../../../operator/kube/transforms.ts";

const plan = { v: 1 as const, startedAt: 1_764_505_200_000, expiresAt: 1_764_534_000_000, expected: ["web-1", "web-2", "web-3"], sessionKey: "k_abc" };

/** A SessionTermination as the API server returns it (abridged), finished or not. */
function termination(phase: "Propagating" | "Completed" | "Failed"): SessionTermination {
  const finished = phase !== "Propagating";
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "SessionTermination",
    metadata: {
      name: "t-1",
      namespace: "shop",
      uid: "u-1",
      resourceVersion: "77",
      generation: 1,
      creationTimestamp: "2026-11-30T12:00:00Z",
      labels: { team: "sec" },
      annotations: { [TERMINATION_PLAN_ANNOTATION]: encodePlan(plan), [LAST_APPLIED_ANNOTATION]: "{}", "example.com/note": "x" },
      finalizers: [],
      ...({ managedFields: [{ manager: "kubectl" }] } as object),
    },
    spec: { target: { sessionID: "s_AAAAAAAAAAAAAAAAAAAAAA" }, reason: "stolen laptop", revokeFor: "12h", ttlSecondsAfterFinished: 600 },
    status: {
      observedGeneration: 1,
      phase,
      busRevision: 42,
      sessionsTerminated: 2,
      connectionsClosed: 5,
      sidecarsAcknowledged: 2,
      sidecarsExpected: 3,
      startTime: "2026-11-30T12:00:00Z",
      ...(finished ? { completionTime: "2026-11-30T12:00:30Z" } : {}),
      ...(phase === "Failed" ? { unresponsiveSidecars: ["shop/web-3"] } : {}),
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "AcknowledgementTimeout",
          message: "1 sidecar(s) never acknowledged",
          lastTransitionTime: "2026-11-30T12:00:30Z",
        },
      ],
    },
  };
}

describe("terminationForCache", () => {
  it("keeps a finished termination's summary: identity, spec, plan without its expected sidecars, phase, revision, times and counts", () => {
    const cached = terminationForCache(termination("Failed"));
    expect(cached).toEqual({
      apiVersion: "vigil.dev/v1alpha1",
      kind: "SessionTermination",
      metadata: {
        name: "t-1",
        namespace: "shop",
        uid: "u-1",
        resourceVersion: "77",
        generation: 1,
        creationTimestamp: "2026-11-30T12:00:00Z",
        annotations: { [TERMINATION_PLAN_ANNOTATION]: encodePlan({ ...plan, expected: [] }) },
      },
      spec: { target: { sessionID: "s_AAAAAAAAAAAAAAAAAAAAAA" }, reason: "stolen laptop", revokeFor: "12h", ttlSecondsAfterFinished: 600 },
      status: {
        phase: "Failed",
        busRevision: 42,
        completionTime: "2026-11-30T12:00:30Z",
        sidecarsAcknowledged: 2,
        sidecarsExpected: 3,
        sessionsTerminated: 2,
        connectionsClosed: 5,
      },
    });
  });

  it("re-creates exactly the same revocation from the summary as from the whole object (the rebuild after a Redis loss)", () => {
    for (const phase of ["Completed", "Failed"] as const) {
      const whole = termination(phase);
      const cached = terminationForCache(whole);
      expect(revocationOf(cached, 5_000, 3_600_000)).toEqual(revocationOf(whole, 5_000, 3_600_000));
      expect(decodePlan(cached.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION])?.expiresAt).toBe(plan.expiresAt);
    }
  });

  it("keeps the deletion time and an already empty plan's text as it is, and drops an invalid plan", () => {
    const t = termination("Completed");
    const emptyPlan = encodePlan({ ...plan, expected: [] });
    t.metadata.annotations = { [TERMINATION_PLAN_ANNOTATION]: emptyPlan };
    t.metadata.deletionTimestamp = "2026-11-30T13:00:00Z";
    const cached = terminationForCache(t);
    expect(cached.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]).toBe(emptyPlan);
    expect(cached.metadata.deletionTimestamp).toBe("2026-11-30T13:00:00Z");
    t.metadata.annotations = { [TERMINATION_PLAN_ANNOTATION]: "not json" };
    expect(terminationForCache(t).metadata.annotations).toEqual({});
  });

  it("keeps an unfinished termination whole but for the apply bookkeeping", () => {
    const t = termination("Propagating");
    const cached = terminationForCache(t);
    expect(cached.status).toBe(t.status);
    expect(cached.spec).toBe(t.spec);
    expect(cached.metadata.annotations).toEqual({ [TERMINATION_PLAN_ANNOTATION]: encodePlan(plan), "example.com/note": "x" });
    expect(cached.metadata).not.toHaveProperty("managedFields");
  });

  it("never modifies its input", () => {
    for (const phase of ["Propagating", "Completed", "Failed"] as const) {
      const t = termination(phase);
      const before = structuredClone(t);
      terminationForCache(t);
      expect(t).toEqual(before);
    }
  });
});

describe("mayRaiseCounts", () => {
  const ack = (pod: string, sessions = 0, connections = 0): Ack =>
    ({ namespace: "shop", pod, sessionsTerminated: sessions, connectionsClosed: connections }) as unknown as Ack;
  const status = { phase: "Completed" as const, sidecarsAcknowledged: 2, sessionsTerminated: 3, connectionsClosed: 4 };

  it("is false when the acknowledgements add nothing to the counts", () => {
    expect(mayRaiseCounts(status, [])).toBe(false);
    expect(mayRaiseCounts(status, [ack("a", 1, 2), ack("b", 2, 2)])).toBe(false);
  });

  it("is true for one more acknowledging pod, session or connection", () => {
    expect(mayRaiseCounts(status, [ack("a"), ack("b"), ack("c")])).toBe(true);
    expect(mayRaiseCounts(status, [ack("a", 4, 0)])).toBe(true);
    expect(mayRaiseCounts(status, [ack("a", 0, 5)])).toBe(true);
    expect(mayRaiseCounts(undefined, [ack("a")])).toBe(true);
  });

  it("counts a pod that acknowledged twice once", () => {
    expect(mayRaiseCounts(status, [ack("a"), ack("a"), ack("b")])).toBe(false);
  });
});
