import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Controller, type ReconcileContext, type Result } from "../../../../operator/controller/reconciler.ts";
import { TerminalError } from "../../../../operator/errors.ts";
import { createLogger } from "../../../../lib/log.ts";

type Step = Result | Error;

/** A reconciler scripted per key: each call consumes the next step; records every call. */
function scripted(steps: Record<string, Step[]>) {
  const calls: { key: string; ctx: ReconcileContext }[] = [];
  return {
    calls,
    reconcile(key: string, ctx: ReconcileContext): Promise<Result> {
      calls.push({ key, ctx });
      const step = steps[key]?.shift() ?? {};
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
    },
  };
}

function setup(steps: Record<string, Step[]>) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const registry = new Registry();
  const reconciler = scripted(steps);
  const controller = new Controller({
    name: "widget",
    kind: "Widget",
    reconciler,
    log: createLogger({ name: "vigil-operator", level: "debug", destination }),
    registry,
    concurrency: 1,
    queue: { random: () => 0 },
  });
  const total = async (result: string) => {
    const metric = (await registry.getSingleMetric("vigil_operator_reconcile_total")!.get()).values;
    return metric.find((v) => v.labels["result"] === result && v.labels["controller"] === "widget")?.value ?? 0;
  };
  return { controller, reconciler, lines, registry, total };
}

describe("Controller (reconcile runner)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("on success forgets the key and counts success", async () => {
    const { controller, reconciler, total } = setup({ "ns/a": [{}] });
    controller.enqueue("ns/a");
    await controller.processNextKey();
    expect(reconciler.calls.map((c) => c.key)).toEqual(["ns/a"]);
    expect(controller.queue.numRequeues("ns/a")).toBe(0);
    expect(controller.queue.delayedLen()).toBe(0);
    expect(await total("success")).toBe(1);
  });

  it("on error retries with growing backoff, then a success resets it", async () => {
    const { controller, reconciler, total } = setup({ "ns/a": [new Error("redis down"), new Error("redis down"), {}] });
    controller.enqueue("ns/a");
    await controller.processNextKey();
    expect(controller.queue.numRequeues("ns/a")).toBe(1);
    await vi.advanceTimersByTimeAsync(4);
    expect(controller.queue.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await controller.processNextKey();
    expect(controller.queue.numRequeues("ns/a")).toBe(2);
    await vi.advanceTimersByTimeAsync(9);
    expect(controller.queue.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await controller.processNextKey();
    expect(reconciler.calls).toHaveLength(3);
    expect(controller.queue.numRequeues("ns/a")).toBe(0);
    expect(await total("error")).toBe(2);
    expect(await total("success")).toBe(1);
  });

  it("does not retry a TerminalError", async () => {
    const { controller, total, lines } = setup({ "ns/a": [new TerminalError("can never be valid")] });
    controller.enqueue("ns/a");
    await controller.processNextKey();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(controller.queue.len()).toBe(0);
    expect(controller.queue.delayedLen()).toBe(0);
    expect(await total("terminal_error")).toBe(1);
    expect(lines.some((l) => l["level"] === "error" && String(l["err"]).includes("can never be valid"))).toBe(true);
  });

  it("requeueAfter forgets the backoff and requeues after exactly that delay", async () => {
    const { controller, total } = setup({ "ns/a": [new Error("x"), { requeueAfterMs: 2_000 }, {}] });
    controller.enqueue("ns/a");
    await controller.processNextKey();
    await vi.advanceTimersByTimeAsync(5);
    await controller.processNextKey();
    expect(controller.queue.numRequeues("ns/a")).toBe(0);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(controller.queue.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(controller.queue.len()).toBe(1);
    expect(await total("requeue_after")).toBe(1);
  });

  it("logs every line of a reconcile with the resource and one reconcile ID, new per reconcile", async () => {
    const { controller, reconciler, lines } = setup({ "team-a/web": [new Error("boom"), {}] });
    controller.enqueue("team-a/web");
    await controller.processNextKey();
    await vi.advanceTimersByTimeAsync(5);
    await controller.processNextKey();
    const ids = reconciler.calls.map((c) => c.ctx.reconcileId);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const reconcileLines = lines.filter((l) => l["reconcileId"] !== undefined);
    expect(reconcileLines.length).toBeGreaterThanOrEqual(2);
    for (const l of reconcileLines) {
      expect(l).toMatchObject({ resource_kind: "Widget", resource_namespace: "team-a", resource_name: "web", controller: "widget" });
      expect(ids).toContain(l["reconcileId"]);
    }
  });

  it("exports queue depth and latency metrics", async () => {
    const { controller, registry } = setup({});
    controller.enqueue("ns/a");
    controller.enqueue("ns/b");
    const text = await registry.metrics();
    expect(text).toContain('vigil_operator_workqueue_depth{controller="widget"} 2');
    await controller.processNextKey();
    expect(await registry.metrics()).toContain('vigil_operator_reconcile_duration_seconds_count{controller="widget"} 1');
  });

  it("two controllers share one registry", () => {
    const { registry } = setup({});
    expect(
      () =>
        new Controller({ name: "other", kind: "Other", reconciler: scripted({}), log: createLogger({ name: "vigil-operator", level: "silent" }), registry }),
    ).not.toThrow();
  });

  it("stop without drain aborts running reconciles and starts nothing new", async () => {
    vi.useRealTimers();
    let release: () => void = () => undefined;
    const seen: string[] = [];
    let aborted = false;
    const controller = new Controller({
      name: "slow",
      kind: "Widget",
      registry: new Registry(),
      log: createLogger({ name: "vigil-operator", level: "silent" }),
      concurrency: 1,
      reconciler: {
        reconcile(key, ctx) {
          seen.push(key);
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            release();
          });
          return new Promise<Result>(
            (resolve) =>
              (release = () => {
                resolve({});
              }),
          );
        },
      },
    });
    controller.enqueue("ns/a");
    controller.enqueue("ns/b");
    controller.start();
    await vi.waitFor(() => {
      expect(seen).toEqual(["ns/a"]);
    });
    await controller.stop({ drain: false });
    expect(aborted).toBe(true);
    expect(seen).toEqual(["ns/a"]);
  });
});
