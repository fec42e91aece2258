import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../../operator/kube/cache.ts";
import { finalizerAddPatch, finalizerRemovePatch, hasFinalizer } from "../../../../operator/kube/finalizer.ts";
import { jsonEqual, statusPatch } from "../../../../operator/kube/status.ts";

const FIN = "vigil.dev/bus-cleanup";

function object(extra: { finalizers?: string[]; status?: unknown } = {}): KubeObject {
  const metadata: Record<string, unknown> = { namespace: "team-a", name: "web", resourceVersion: "42" };
  if (extra.finalizers !== undefined) metadata["finalizers"] = extra.finalizers;
  const o: KubeObject = { metadata };
  if (extra.status !== undefined) o["status"] = extra.status;
  return o;
}

describe("statusPatch", () => {
  it("writes nothing when the desired status equals the current one (key order and undefined ignored)", () => {
    const current = object({ status: { observedGeneration: 2, conditions: [{ type: "Ready", status: "True" }] } });
    expect(statusPatch(current, { conditions: [{ status: "True", type: "Ready" }], observedGeneration: 2, busRevision: undefined })).toBeUndefined();
    expect(statusPatch(object(), {})).toBeUndefined();
  });

  it("replaces /status guarded by the resourceVersion when it differs", () => {
    expect(statusPatch(object({ status: { observedGeneration: 1 } }), { observedGeneration: 2 })).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/status", value: { observedGeneration: 2 } },
    ]);
  });

  it("compares as JSON", () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe("finalizer patches", () => {
  it("creates the list when there is none", () => {
    expect(finalizerAddPatch(object(), FIN)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/metadata/finalizers", value: [FIN] },
    ]);
  });

  it("appends to an existing list and is a no-op when present", () => {
    expect(finalizerAddPatch(object({ finalizers: ["other"] }), FIN)?.[1]).toEqual({ op: "add", path: "/metadata/finalizers/-", value: FIN });
    expect(finalizerAddPatch(object({ finalizers: [FIN] }), FIN)).toBeUndefined();
    expect(hasFinalizer(object({ finalizers: [FIN] }), FIN)).toBe(true);
  });

  it("removes exactly our entry, testing it is still at that index", () => {
    expect(finalizerRemovePatch(object({ finalizers: ["other", FIN] }), FIN)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "test", path: "/metadata/finalizers/1", value: FIN },
      { op: "remove", path: "/metadata/finalizers/1" },
    ]);
    expect(finalizerRemovePatch(object({ finalizers: ["other"] }), FIN)).toBeUndefined();
    expect(finalizerRemovePatch(object(), FIN)).toBeUndefined();
  });
});
