import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LAST_APPLIED_ANNOTATION, podForCache, withoutApplyBookkeeping } from "../../../../operator/kube/transforms.ts";

/** A Pod as the API server lists it (abridged): everything the cache must not keep is here. */
function fullPod(): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-7d9f",
      namespace: "shop",
      uid: "0f3c2a",
      resourceVersion: "4711",
      generateName: "web-",
      creationTimestamp: new Date("2026-11-30T10:00:00Z"),
      labels: { app: "web", "vigil.dev/inject": "true" },
      annotations: { "vigil.dev/injection-status": "injected", "vigil.dev/upstream-port": "8080", [LAST_APPLIED_ANNOTATION]: "{}" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9f", uid: "r1", controller: true }],
      managedFields: [{ manager: "kube-controller-manager", operation: "Update", fieldsType: "FieldsV1", fieldsV1: {} }],
    },
    spec: { containers: [{ name: "app", image: "shop/web:1", env: [{ name: "A", value: "1" }] }], nodeName: "node-1" },
    status: { phase: "Running", podIP: "10.0.0.7", conditions: [{ type: "Ready", status: "True" }] },
  };
}

describe("podForCache", () => {
  it("keeps the key, the resourceVersion and the labels, and nothing else", () => {
    expect(podForCache(fullPod())).toEqual({
      metadata: { name: "web-7d9f", namespace: "shop", resourceVersion: "4711", labels: { app: "web", "vigil.dev/inject": "true" } },
    });
  });

  it("drops spec, status, annotations (Vigil's too), ownerReferences and managedFields", () => {
    const cached = podForCache(fullPod()) as Record<string, unknown> & { metadata: Record<string, unknown> };
    expect(Object.keys(cached)).toEqual(["metadata"]);
    expect(Object.keys(cached.metadata).sort()).toEqual(["labels", "name", "namespace", "resourceVersion"]);
  });

  it("does not touch its input, nor share the labels map with it", () => {
    const pod = fullPod();
    const before = structuredClone(pod);
    const cached = podForCache(pod);
    expect(pod).toEqual(before);
    expect(cached.metadata.labels).not.toBe(pod.metadata?.labels);
  });

  it("leaves absent fields absent (a Pod without labels or metadata)", () => {
    expect(podForCache({ metadata: { name: "bare", namespace: "shop" } })).toEqual({ metadata: { name: "bare", namespace: "shop" } });
    expect(podForCache({})).toEqual({ metadata: {} });
  });
});

describe("withoutApplyBookkeeping", () => {
  const policy = () => ({
    apiVersion: "vigil.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: {
      name: "p",
      namespace: "shop",
      uid: "u1",
      resourceVersion: "9",
      generation: 3,
      finalizers: ["vigil.dev/bus"],
      deletionTimestamp: "2026-11-30T10:00:00Z",
      annotations: { [LAST_APPLIED_ANNOTATION]: '{"spec":{}}', "vigil.dev/termination-plan": "plan", other: "x" },
      managedFields: [{ manager: "kubectl", operation: "Apply" }],
    },
    spec: { selector: {}, rules: [{ paths: ["/"] }] },
    status: { observedGeneration: 3, conditions: [{ type: "Ready", status: "True" }] },
  });

  it("drops managedFields and the last-applied annotation, and keeps everything else", () => {
    expect(withoutApplyBookkeeping(policy())).toEqual({
      ...policy(),
      metadata: {
        name: "p",
        namespace: "shop",
        uid: "u1",
        resourceVersion: "9",
        generation: 3,
        finalizers: ["vigil.dev/bus"],
        deletionTimestamp: "2026-11-30T10:00:00Z",
        annotations: { "vigil.dev/termination-plan": "plan", other: "x" },
      },
    });
  });

  it("keeps an empty annotations map when last-applied was its only entry (a plan patch then adds one key)", () => {
    const obj = { metadata: { name: "t", annotations: { [LAST_APPLIED_ANNOTATION]: "{}" } } };
    expect(withoutApplyBookkeeping(obj)).toEqual({ metadata: { name: "t", annotations: {} } });
  });

  it("does not touch its input", () => {
    const obj = policy();
    const before = structuredClone(obj);
    const cached = withoutApplyBookkeeping(obj);
    expect(obj).toEqual(before);
    expect(cached.metadata).not.toBe(obj.metadata);
    expect(cached.metadata.annotations).not.toBe(obj.metadata.annotations);
  });

  it("returns an object with nothing to drop as it is", () => {
    const obj = { metadata: { name: "p", annotations: { other: "x" } }, spec: {} };
    expect(withoutApplyBookkeeping(obj)).toBe(obj);
    const bare = {};
    expect(withoutApplyBookkeeping(bare)).toBe(bare);
  });

  it("drops managedFields alone when there is no last-applied annotation", () => {
    const obj = { metadata: { name: "p", managedFields: [{}] } };
    expect(withoutApplyBookkeeping(obj)).toEqual({ metadata: { name: "p" } });
  });
});
