import type { V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { inject } from "../../../../operator/webhook/inject.ts";
import { ownerWorkload } from "../../../../operator/webhook/workload.ts";
import { parseSidecarConfig } from "../../../../sidecar/config.ts";
import { goldenConfig, pod, withPorts } from "./support.ts";

const owned = (owner: Partial<V1OwnerReference>, labels: Record<string, string> = {}): V1Pod => {
  const p = pod(withPorts(8080));
  const metadata = p.metadata ?? {};
  metadata.labels = { ...metadata.labels, ...labels };
  metadata.ownerReferences = [Object.assign({ apiVersion: "apps/v1", uid: "u", kind: "ReplicaSet", name: "x", controller: true }, owner)];
  p.metadata = metadata;
  return p;
};

describe("the owning workload the injection tells the sidecar", () => {
  it("is the Deployment behind a ReplicaSet named <deployment>-<pod-template-hash>", () => {
    expect(ownerWorkload(owned({ name: "web-7d9f8b6c5" }, { "pod-template-hash": "7d9f8b6c5" }))).toEqual({ kind: "Deployment", name: "web" });
  });

  it("is the ReplicaSet itself when its name does not end in the pod's template hash", () => {
    expect(ownerWorkload(owned({ name: "web-7d9f8b6c5" }, { "pod-template-hash": "other" }))).toEqual({ kind: "ReplicaSet", name: "web-7d9f8b6c5" });
    expect(ownerWorkload(owned({ name: "standalone" }))).toEqual({ kind: "ReplicaSet", name: "standalone" });
  });

  it("is the controller of any other kind as named, and nothing for a pod without a controller", () => {
    expect(ownerWorkload(owned({ apiVersion: "apps/v1", kind: "StatefulSet", name: "db" }))).toEqual({ kind: "StatefulSet", name: "db" });
    expect(ownerWorkload(owned({ kind: "StatefulSet", name: "db", controller: false }))).toBeUndefined();
    expect(ownerWorkload(pod(withPorts(8080)))).toBeUndefined();
  });

  it("reaches the sidecar's configuration through the injected environment, and is absent for a bare pod", () => {
    const envOf = (p: V1Pod): Record<string, string> =>
      Object.fromEntries((inject(p, goldenConfig()).spec?.initContainers?.[0]?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
    const env = {
      ...envOf(owned({ name: "web-abc12" }, { "pod-template-hash": "abc12" })),
      VIGIL_POD_NAME: "web-abc12-xyz",
      VIGIL_POD_NAMESPACE: "team-a",
      VIGIL_REDIS_URL: "redis://127.0.0.1:6379",
    };
    expect(parseSidecarConfig({ argv: [], env })).toMatchObject({ workloadKind: "Deployment", workloadName: "web" });
    expect(Object.keys(envOf(pod(withPorts(8080)))).filter((k) => k.includes("WORKLOAD"))).toEqual([]);
  });
});
