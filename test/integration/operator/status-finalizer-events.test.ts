/**
 * Status, finalizer and Event helpers against the real API server.
 */
import { EventsV1Api } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { EventRecorder } from "../../../operator/kube/events.ts";
import { addFinalizer, removeFinalizer } from "../../../operator/kube/finalizer.ts";
import { updateStatus } from "../../../operator/kube/status.ts";
import { WIDGETS, applyWidgetCrd, createNamespace, kubeConfig, quietLog, widgets, type Widget } from "./kube-support.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const w = widgets(kc);
const FIN = "vigil.dev/bus-cleanup";

beforeAll(async () => {
  await applyWidgetCrd(env);
});

const ref = (namespace: string, name: string) => ({ ...WIDGETS, namespace, name });

describe("updateStatus", () => {
  it("writes the status subresource when it differs and leaves the resourceVersion alone when it does not", async () => {
    const ns = await createNamespace(env);
    await w.create(ns, "s1", { size: 1 });
    const desired = { observedGeneration: 1, conditions: [{ type: "Ready", status: "True", reason: "Published", message: "ok" }] };

    const first = await updateStatus(w.api, ref(ns, "s1"), () => desired);
    expect(first.changed).toBe(true);
    const afterWrite = await w.get(ns, "s1");
    expect(afterWrite.status).toEqual(desired);
    expect(afterWrite.spec).toEqual({ size: 1 });

    const second = await updateStatus(w.api, ref(ns, "s1"), () => ({
      ...desired,
      conditions: [{ message: "ok", reason: "Published", status: "True", type: "Ready" }],
    }));
    expect(second.changed).toBe(false);
    expect((await w.get(ns, "s1")).metadata.resourceVersion).toBe(afterWrite.metadata.resourceVersion);
  });

  it("on a conflict re-reads the object and recomputes from the fresh copy", async () => {
    const ns = await createNamespace(env);
    const stale = await w.create(ns, "s2", { size: 1 });
    await w.update(ns, "s2", { size: 2 });
    const seenSizes: unknown[] = [];
    const result = await updateStatus(
      w.api,
      ref(ns, "s2"),
      (obj) => {
        const size = (obj as unknown as Widget).spec?.["size"];
        seenSizes.push(size);
        return { observedSize: size };
      },
      { initial: stale as never },
    );
    expect(result.changed).toBe(true);
    expect(result.attempts).toBe(2);
    expect(seenSizes).toEqual([1, 2]);
    expect((await w.get(ns, "s2")).status).toEqual({ observedSize: 2 });
  });

  it("treats an object that is gone as nothing to do", async () => {
    const ns = await createNamespace(env);
    const result = await updateStatus(w.api, ref(ns, "never-created"), () => ({ a: 1 }));
    expect(result).toMatchObject({ changed: false, object: undefined });
  });
});

describe("finalizers", () => {
  it("adds once, keeps other finalizers, and removal lets a deleted object go", async () => {
    const ns = await createNamespace(env);
    await w.create(ns, "f1");
    await addFinalizer(w.api, ref(ns, "f1"), "example.com/other");
    const added = await addFinalizer(w.api, ref(ns, "f1"), FIN);
    expect(added?.metadata?.["finalizers" as never]).toEqual(["example.com/other", FIN]);
    const rvBefore = (await w.get(ns, "f1")).metadata.resourceVersion;
    await addFinalizer(w.api, ref(ns, "f1"), FIN);
    expect((await w.get(ns, "f1")).metadata.resourceVersion).toBe(rvBefore);

    await w.remove(ns, "f1");
    const deleting = await w.get(ns, "f1");
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    await removeFinalizer(w.api, ref(ns, "f1"), FIN);
    expect((await w.get(ns, "f1")).metadata.finalizers).toEqual(["example.com/other"]);
    await removeFinalizer(w.api, ref(ns, "f1"), "example.com/other");
    await expect(w.get(ns, "f1")).rejects.toMatchObject({ code: 404 });
  });

  it("a stale copy does not overwrite a concurrent change (the patch is guarded by resourceVersion)", async () => {
    const ns = await createNamespace(env);
    const stale = await w.create(ns, "f2");
    await addFinalizer(w.api, ref(ns, "f2"), "example.com/concurrent");
    const result = await addFinalizer(w.api, ref(ns, "f2"), FIN, { initial: stale });
    expect(result?.metadata.finalizers).toEqual(["example.com/concurrent", FIN]);
  });
});

describe("EventRecorder", () => {
  it("creates an events.k8s.io/v1 Event regarding the object, once per identical outcome", async () => {
    const ns = await createNamespace(env);
    const obj = await w.create(ns, "e1");
    const recorder = new EventRecorder({ kc, controller: "vigil.dev/operator", instance: "test-pod", log: quietLog });
    expect(await recorder.record(obj, "Warning", "BusUnavailable", "redis: connection refused")).toBe(true);
    expect(await recorder.record(obj, "Warning", "BusUnavailable", "redis: connection refused")).toBe(false);
    const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({
      type: "Warning",
      reason: "BusUnavailable",
      note: "redis: connection refused",
      reportingController: "vigil.dev/operator",
      regarding: { kind: "Widget", name: "e1", namespace: ns, uid: obj.metadata.uid },
    });
  });

  it("records the same outcome again once the dedupe window has passed, and a different outcome at once", async () => {
    const ns = await createNamespace(env);
    const obj = await w.create(ns, "e3");
    const recorder = new EventRecorder({ kc, controller: "vigil.dev/operator", instance: "test-pod", log: quietLog, dedupeMs: 300 });
    expect(await recorder.record(obj, "Warning", "BusUnavailable", "down")).toBe(true);
    expect(await recorder.record(obj, "Warning", "BusUnavailable", "still down")).toBe(true);
    expect(await recorder.record(obj, "Warning", "BusUnavailable", "down")).toBe(false);
    await vi.waitFor(
      async () => {
        expect(await recorder.record(obj, "Warning", "BusUnavailable", "down")).toBe(true);
      },
      { timeout: 5_000, interval: 50 },
    );
    const notes = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items.map((e) => e.note).sort();
    expect(notes).toEqual(["down", "down", "still down"]);
  });

  it("never throws: a bad reason or an unwritable namespace resolves false", async () => {
    const ns = await createNamespace(env);
    const obj = await w.create(ns, "e2");
    const recorder = new EventRecorder({ kc, controller: "vigil.dev/operator", instance: "test-pod", log: quietLog });
    await expect(recorder.record(obj, "Normal", "not camel", "x")).resolves.toBe(false);
    const ghost = { ...obj, metadata: { ...obj.metadata, namespace: "no-such-namespace-xyz" } };
    await expect(recorder.record(ghost, "Normal", "Published", "x")).resolves.toBe(false);
  });
});
