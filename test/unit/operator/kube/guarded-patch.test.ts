import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../../operator/kube/cache.ts";
import { guardedPatch, resourceVersionTest, type JsonPatchOp } from "../../../../operator/kube/guarded-patch.ts";

const at = (rv: string, spec: unknown = {}): KubeObject => ({ metadata: { namespace: "ns", name: "x", resourceVersion: rv }, spec });
const httpError = (code: number) => new ApiException(code, `HTTP-Code: ${code}`, "", {});

/** A tiny in-memory "server": the stored object, plus scripted failures for the next applies. */
function store(initial: KubeObject | undefined, failures: number[] = []) {
  let stored = initial;
  const applied: JsonPatchOp[][] = [];
  return {
    applied,
    bump(rv: string) {
      stored = at(rv);
    },
    read: () => Promise.resolve(stored),
    apply: (patch: JsonPatchOp[]) => {
      applied.push(patch);
      const code = failures.shift();
      if (code !== undefined) return Promise.reject(httpError(code));
      const test = patch[0] as { value: string };
      if (stored?.metadata?.resourceVersion !== test.value) return Promise.reject(httpError(422));
      stored = at(String(Number(test.value) + 1));
      return Promise.resolve(stored);
    },
  };
}

const build = (obj: KubeObject): JsonPatchOp[] => [resourceVersionTest(obj), { op: "add", path: "/status", value: { ok: true } }];

describe("guardedPatch", () => {
  it("applies once when the copy is current", async () => {
    const s = store(at("5"));
    const r = await guardedPatch({ what: "t", read: s.read, apply: s.apply, build });
    expect(r).toMatchObject({ changed: true, attempts: 1 });
    expect(r.object?.metadata?.resourceVersion).toBe("6");
  });

  it("rebuilds from a fresh copy when the failed test (422) was caused by a newer resourceVersion", async () => {
    const s = store(at("7"));
    const r = await guardedPatch({ what: "t", read: s.read, apply: s.apply, build, initial: at("5") });
    expect(r).toMatchObject({ changed: true, attempts: 2 });
    expect(s.applied.map((p) => (p[0] as { value: string }).value)).toEqual(["5", "7"]);
  });

  it("retries a 409 and gives up with a coded error after maxAttempts", async () => {
    const s = store(at("5"), [409, 409, 409]);
    await expect(guardedPatch({ what: "status of ns/x", read: s.read, apply: s.apply, build, maxAttempts: 3 })).rejects.toMatchObject({
      code: "KUBE_CONFLICT",
      message: "writing status of ns/x kept conflicting after 3 attempts",
    });
    expect(s.applied).toHaveLength(3);
  });

  it("throws at once on a 422 when the object did not change (the patch itself is invalid)", async () => {
    const s = store(at("5"), [422]);
    await expect(guardedPatch({ what: "t", read: s.read, apply: s.apply, build })).rejects.toMatchObject({ code: "KUBE_API" });
    expect(s.applied).toHaveLength(1);
  });

  it("writes nothing when the patch builder says it is already as wanted, and reports a missing object as gone", async () => {
    const s = store(at("5"));
    expect(await guardedPatch({ what: "t", read: s.read, apply: s.apply, build: () => undefined })).toMatchObject({ changed: false, attempts: 1 });
    expect(s.applied).toHaveLength(0);
    const gone = store(undefined);
    expect(await guardedPatch({ what: "t", read: gone.read, apply: gone.apply, build })).toMatchObject({ changed: false, object: undefined });
    const vanishing = store(at("5"), [404]);
    expect(await guardedPatch({ what: "t", read: vanishing.read, apply: vanishing.apply, build })).toMatchObject({ object: undefined });
  });

  it("does not retry other API errors", async () => {
    const s = store(at("5"), [500]);
    await expect(guardedPatch({ what: "t", read: s.read, apply: s.apply, build })).rejects.toMatchObject({ code: "KUBE_API" });
    expect(s.applied).toHaveLength(1);
  });
});
