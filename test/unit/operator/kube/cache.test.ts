import { describe, expect, it } from "vitest";
import { applyWatchEvent, classifyWatchEnd, diffCaches, forCache, indexByKey, type KubeObject } from "../../../../operator/kube/cache.ts";
import { keyOf, objectKey, splitKey } from "../../../../operator/kube/keys.ts";

const obj = (namespace: string, name: string, resourceVersion: string): KubeObject => ({ metadata: { namespace, name, resourceVersion } });

describe("keys", () => {
  it("uses namespace/name, and name alone for cluster-scoped objects", () => {
    expect(objectKey(obj("team-a", "web", "1"))).toBe("team-a/web");
    expect(objectKey({ metadata: { name: "node-1" } })).toBe("node-1");
    expect(objectKey({ metadata: {} })).toBeUndefined();
    expect(splitKey("team-a/web")).toEqual({ namespace: "team-a", name: "web" });
    expect(splitKey("node-1")).toEqual({ namespace: "", name: "node-1" });
    expect(keyOf({ namespace: "", name: "x" })).toBe("x");
  });
});

describe("diffCaches (relist after 410)", () => {
  it("reports added, changed and deleted keys and nothing for unchanged ones", () => {
    const old = indexByKey([obj("a", "kept", "10"), obj("a", "changed", "11"), obj("a", "deleted", "12"), obj("b", "deleted-too", "13")]);
    const fresh = indexByKey([obj("a", "kept", "10"), obj("a", "changed", "20"), obj("a", "new", "21")]);
    expect(diffCaches(old, fresh)).toEqual([
      { key: "a/changed", type: "update" },
      { key: "a/deleted", type: "delete" },
      { key: "a/new", type: "add" },
      { key: "b/deleted-too", type: "delete" },
    ]);
  });

  it("an empty old cache makes everything an add; an empty list deletes everything", () => {
    const items = indexByKey([obj("a", "x", "1"), obj("a", "y", "2")]);
    expect(diffCaches(new Map(), items).map((c) => c.type)).toEqual(["add", "add"]);
    expect(diffCaches(items, new Map()).map((c) => c.type)).toEqual(["delete", "delete"]);
  });
});

describe("applyWatchEvent", () => {
  it("keeps the cache in step with ADDED, MODIFIED and DELETED", () => {
    const cache = indexByKey<KubeObject>([]);
    expect(applyWatchEvent(cache, "ADDED", obj("a", "x", "1"))).toEqual({ key: "a/x", type: "add" });
    expect(applyWatchEvent(cache, "MODIFIED", obj("a", "x", "2"))).toEqual({ key: "a/x", type: "update" });
    expect(cache.get("a/x")?.metadata?.resourceVersion).toBe("2");
    expect(applyWatchEvent(cache, "ADDED", obj("a", "x", "3"))).toEqual({ key: "a/x", type: "update" });
    expect(applyWatchEvent(cache, "DELETED", obj("a", "x", "4"))).toEqual({ key: "a/x", type: "delete" });
    expect(cache.size).toBe(0);
  });

  it("ignores bookmarks, unknown types and nameless objects", () => {
    const cache = indexByKey<KubeObject>([]);
    expect(applyWatchEvent(cache, "BOOKMARK", obj("a", "x", "9"))).toBeUndefined();
    expect(applyWatchEvent(cache, "WHATEVER", obj("a", "x", "9"))).toBeUndefined();
    expect(applyWatchEvent(cache, "ADDED", { metadata: {} })).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe("classifyWatchEnd", () => {
  const base = { error: null, errorEventCode: undefined, sawEvents: false, durationMs: 10, minHealthyMs: 5_000 };

  it("410 as an ERROR event or as an HTTP status means relist", () => {
    expect(classifyWatchEnd({ ...base, errorEventCode: 410 })).toEqual({ kind: "gone" });
    expect(classifyWatchEnd({ ...base, error: Object.assign(new Error("Gone"), { statusCode: 410 }) })).toEqual({ kind: "gone" });
  });

  it("a clean close or idle timeout of a healthy watch resumes at once", () => {
    expect(classifyWatchEnd({ ...base, sawEvents: true })).toMatchObject({ kind: "ended", healthy: true, clean: true });
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(classifyWatchEnd({ ...base, error: timeout, durationMs: 30_000 })).toMatchObject({ kind: "ended", healthy: true, clean: true });
  });

  it("an immediate close without events is not healthy (backoff, no hot loop)", () => {
    expect(classifyWatchEnd(base)).toMatchObject({ kind: "ended", healthy: false, clean: true });
  });

  it("other errors resume with backoff and say why", () => {
    expect(classifyWatchEnd({ ...base, errorEventCode: 500 })).toMatchObject({
      kind: "ended",
      healthy: false,
      clean: false,
      reason: "ERROR event with code 500",
    });
    expect(classifyWatchEnd({ ...base, error: Object.assign(new Error("x"), { statusCode: 503 }) })).toMatchObject({ clean: false, reason: "HTTP 503" });
    expect(classifyWatchEnd({ ...base, error: new Error("socket hang up"), sawEvents: true })).toMatchObject({
      healthy: true,
      clean: false,
      reason: "socket hang up",
    });
  });
});

describe("forCache", () => {
  it("keeps everything a reconciler reads but drops server-side-apply bookkeeping, without touching the original", () => {
    const obj = {
      metadata: { name: "web", namespace: "shop", resourceVersion: "7", labels: { app: "web" }, managedFields: [{ manager: "kubectl", operation: "Apply" }] },
      spec: { rules: [] },
    };
    const cached = forCache(obj);
    expect(cached).toEqual({ metadata: { name: "web", namespace: "shop", resourceVersion: "7", labels: { app: "web" } }, spec: { rules: [] } });
    expect(obj.metadata.managedFields).toHaveLength(1);
  });

  it("returns objects without managed fields as they are", () => {
    const obj = { metadata: { name: "web" } };
    expect(forCache(obj)).toBe(obj);
  });
});
