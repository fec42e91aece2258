import { describe, expect, it } from "vitest";
import type { CompiledSelector } from "../../../../operator/api/compiled-policy.ts";
import { selects as selectorMatches } from "../../../../operator/api/label-selector.ts";

function selector(fields: Partial<CompiledSelector> = {}): CompiledSelector {
  return { matchLabels: {}, matchExpressions: [], ...fields };
}

describe("selectorMatches (metav1.LabelSelector semantics)", () => {
  it("an empty selector selects every workload", () => {
    expect(selectorMatches(selector(), {})).toBe(true);
    expect(selectorMatches(selector(), { app: "web" })).toBe(true);
  });

  it("matchLabels needs every label with the same value", () => {
    const s = selector({ matchLabels: { app: "web", tier: "front" } });
    expect(selectorMatches(s, { app: "web", tier: "front", extra: "x" })).toBe(true);
    expect(selectorMatches(s, { app: "web" })).toBe(false);
    expect(selectorMatches(s, { app: "web", tier: "back" })).toBe(false);
  });

  it("In and NotIn compare against the value list; NotIn also holds when the label is absent", () => {
    const inList = selector({ matchExpressions: [{ key: "env", operator: "In", values: ["prod", "staging"] }] });
    expect(selectorMatches(inList, { env: "prod" })).toBe(true);
    expect(selectorMatches(inList, { env: "dev" })).toBe(false);
    expect(selectorMatches(inList, {})).toBe(false);
    const notIn = selector({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] });
    expect(selectorMatches(notIn, { env: "dev" })).toBe(true);
    expect(selectorMatches(notIn, {})).toBe(true);
    expect(selectorMatches(notIn, { env: "prod" })).toBe(false);
  });

  it("Exists and DoesNotExist look at the key only", () => {
    const exists = selector({ matchExpressions: [{ key: "canary", operator: "Exists", values: [] }] });
    const absent = selector({ matchExpressions: [{ key: "canary", operator: "DoesNotExist", values: [] }] });
    expect(selectorMatches(exists, { canary: "" })).toBe(true);
    expect(selectorMatches(exists, {})).toBe(false);
    expect(selectorMatches(absent, {})).toBe(true);
    expect(selectorMatches(absent, { canary: "yes" })).toBe(false);
  });

  it("inherited object properties are not labels", () => {
    const s = selector({ matchExpressions: [{ key: "constructor", operator: "Exists", values: [] }] });
    expect(selectorMatches(s, {})).toBe(false);
  });
});
