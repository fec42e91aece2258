import { describe, expect, it } from "vitest";
import type { AccessPolicyStatus, Condition } from "../../../../operator/api/v1alpha1/index.ts";
import { deletionBlockedStatus, desiredPolicyStatus, type PolicyObservation } from "../../../../operator/controller/policy-status.ts";
import type { Problem } from "../../../../operator/policy/compile.ts";

const t0 = new Date("2026-01-02T03:04:05.678Z");
const t1 = new Date("2026-01-02T04:00:00Z");

function observed(fields: Partial<PolicyObservation> = {}): PolicyObservation {
  return { generation: 3, problems: [], warnings: [], bus: { ok: true, revision: 42 }, sidecars: { selected: 2, enforcing: 1 }, matchesPods: true, ...fields };
}

const problem = (reason: Problem["reason"], field: string, message: string): Problem => ({ reason, field, message });

function condition(status: AccessPolicyStatus, type: string): Condition {
  const found = status.conditions?.find((c) => c.type === type);
  if (found === undefined) throw new Error(`no ${type} condition`);
  return found;
}

describe("AccessPolicy status", () => {
  it("a published policy is Accepted and Ready at its bus revision, with sidecar counts", () => {
    const status = desiredPolicyStatus(undefined, observed(), t0);
    expect(status).toMatchObject({ observedGeneration: 3, busRevision: 42, selectedSidecars: 2, enforcingSidecars: 1 });
    expect(condition(status, "Accepted")).toMatchObject({
      status: "True",
      reason: "Accepted",
      observedGeneration: 3,
      lastTransitionTime: "2026-01-02T03:04:05Z",
    });
    expect(condition(status, "Ready")).toMatchObject({
      status: "True",
      reason: "Published",
      message: "published at bus revision 42; 1 of 2 selected live sidecar(s) enforce it",
    });
    expect(condition(status, "Degraded")).toMatchObject({ status: "False", reason: "AsExpected" });
  });

  it("problems make it Accepted=False with the first problem's reason and every problem listed, and drop the bus fields", () => {
    const before = desiredPolicyStatus(undefined, observed(), t0);
    const status = desiredPolicyStatus(
      before,
      observed({ problems: [problem("RuleNeverMatches", "spec.rules[0]", "never matches"), problem("InvalidCIDR", "spec.rules[1].sourceCIDRs[0]", "bad")] }),
      t1,
    );
    expect(condition(status, "Accepted")).toMatchObject({
      status: "False",
      reason: "RuleNeverMatches",
      message: "spec.rules[0]: never matches; spec.rules[1].sourceCIDRs[0]: bad",
      lastTransitionTime: "2026-01-02T04:00:00Z",
    });
    expect(condition(status, "Ready")).toMatchObject({ status: "False", reason: "Rejected" });
    expect(status.busRevision).toBeUndefined();
    expect(status.enforcingSidecars).toBeUndefined();
  });

  it("warnings and a selector matching no pod surface as Degraded=True, the policy stays Ready", () => {
    const status = desiredPolicyStatus(undefined, observed({ warnings: [problem("NoAllowRule", "spec.rules", "denies everything")], matchesPods: false }), t0);
    expect(condition(status, "Accepted").message).toBe("the policy compiled with 1 warning(s): spec.rules: denies everything");
    expect(condition(status, "Degraded")).toMatchObject({
      status: "True",
      reason: "NoAllowRule",
      message: "spec.rules: denies everything; spec.selector: the selector matches no pod in the namespace",
    });
    expect(condition(status, "Ready").status).toBe("True");
    const noPods = desiredPolicyStatus(undefined, observed({ matchesPods: false }), t0);
    expect(condition(noPods, "Degraded")).toMatchObject({ status: "True", reason: "NoMatchingPods" });
  });

  it("Redis refusing the write makes it Ready=False/BusUnavailable and keeps what was published before", () => {
    const before = desiredPolicyStatus(undefined, observed(), t0);
    const status = desiredPolicyStatus(before, observed({ bus: { ok: false, error: "connection refused" } }), t1);
    expect(condition(status, "Ready")).toMatchObject({ status: "False", reason: "BusUnavailable", lastTransitionTime: "2026-01-02T04:00:00Z" });
    expect(condition(status, "Ready").message).toContain("connection refused");
    expect(status).toMatchObject({ busRevision: 42, selectedSidecars: 2, enforcingSidecars: 1 });
  });

  it("recomputing the same observation later changes nothing (no status patch, no transition)", () => {
    const first = desiredPolicyStatus(undefined, observed(), t0);
    expect(desiredPolicyStatus(first, observed(), t1)).toEqual(first);
  });

  it("lastTransitionTime moves only when a condition flips", () => {
    const first = desiredPolicyStatus(undefined, observed(), t0);
    const counts = desiredPolicyStatus(first, observed({ sidecars: { selected: 2, enforcing: 2 } }), t1);
    expect(condition(counts, "Ready").lastTransitionTime).toBe("2026-01-02T03:04:05Z");
    expect(condition(counts, "Ready").message).toContain("2 of 2");
  });

  it("a deletion blocked by Redis says why the finalizer stays", () => {
    const status = deletionBlockedStatus(desiredPolicyStatus(undefined, observed(), t0), 3, "ECONNREFUSED", t1);
    expect(condition(status, "Ready")).toMatchObject({ status: "False", reason: "BusUnavailable" });
    expect(condition(status, "Ready").message).toMatch(/finalizer stays.*ECONNREFUSED/);
    expect(status.busRevision).toBe(42);
  });
});
