import { describe, expect, it } from "vitest";
import { getCondition, isTrue, sameConditions, setCondition, type ConditionUpdate } from "../../../../operator/api/conditions.ts";
import type { Condition } from "../../../../operator/api/v1alpha1/index.ts";

const t0 = new Date("2026-01-01T10:00:00.123Z");
const t1 = new Date("2026-01-01T11:00:00Z");
const accepted = (status: Condition["status"], reason = "Compiled", observedGeneration = 1): ConditionUpdate => ({
  type: "Accepted",
  status,
  reason,
  message: `the policy is ${status}`,
  observedGeneration,
});

describe("setCondition", () => {
  it("adds a new condition stamped with the current time (second precision)", () => {
    const list = setCondition(undefined, accepted("True"), t0);
    expect(list).toEqual([
      {
        type: "Accepted",
        status: "True",
        reason: "Compiled",
        message: "the policy is True",
        observedGeneration: 1,
        lastTransitionTime: "2026-01-01T10:00:00Z",
      },
    ]);
  });

  it("keeps lastTransitionTime when the status does not change, but takes the new reason and generation", () => {
    const first = setCondition([], accepted("True"), t0);
    const second = setCondition(first, accepted("True", "Recompiled", 2), t1);
    expect(second[0]).toMatchObject({ reason: "Recompiled", observedGeneration: 2, lastTransitionTime: "2026-01-01T10:00:00Z" });
  });

  it("moves lastTransitionTime when the status changes", () => {
    const first = setCondition([], accepted("True"), t0);
    const second = setCondition(first, accepted("False", "IdleExceedsAbsolute", 2), t1);
    expect(second[0]).toMatchObject({ status: "False", lastTransitionTime: "2026-01-01T11:00:00Z" });
  });

  it("never mutates its input and keeps other conditions in place", () => {
    const ready: Condition = { type: "Ready", status: "False", reason: "Waiting", message: "", lastTransitionTime: "2026-01-01T09:00:00Z" };
    const input: readonly Condition[] = Object.freeze([Object.freeze({ ...ready })]);
    const out = setCondition(input, accepted("True"), t0);
    expect(input).toEqual([ready]);
    expect(out.map((c) => c.type)).toEqual(["Ready", "Accepted"]);
    expect(out[0]).not.toBe(input[0]);
  });
});

describe("getCondition / isTrue / sameConditions", () => {
  const list = setCondition(setCondition([], accepted("True"), t0), { ...accepted("False"), type: "Ready" }, t0);

  it("finds conditions by type", () => {
    expect(getCondition(list, "Ready")?.status).toBe("False");
    expect(getCondition(list, "Missing")).toBeUndefined();
    expect(isTrue(list, "Accepted")).toBe(true);
    expect(isTrue(list, "Ready")).toBe(false);
    expect(isTrue(undefined, "Accepted")).toBe(false);
  });

  it("tells an unchanged list from a changed one, ignoring order", () => {
    expect(sameConditions(list, [...list].reverse())).toBe(true);
    expect(sameConditions(list, setCondition(list, accepted("True"), t1))).toBe(true);
    expect(sameConditions(list, setCondition(list, accepted("True", "Other"), t1))).toBe(false);
    expect(sameConditions(undefined, [])).toBe(true);
  });
});
