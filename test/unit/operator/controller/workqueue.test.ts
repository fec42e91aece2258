import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkQueue } from "../../../../operator/controller/workqueue.ts";
import { drainReady } from "./drain-ready.ts";

const noJitter = () => 0;

describe("WorkQueue", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("collapses duplicate adds of a waiting key and keeps first-in order", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    expect(q.len()).toBe(2);
    expect(await drainReady(q)).toEqual(["ns/a", "ns/b"]);
  });

  it("never hands out a key that is being processed; an add meanwhile requeues it after done", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    const first = await q.get();
    expect(first).toBe("ns/a");
    q.add("ns/a");
    q.add("ns/a");
    expect(q.len()).toBe(0);
    let second: string | undefined = "pending";
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBe("pending");
    q.done("ns/a");
    await Promise.resolve();
    expect(second).toBe("ns/a");
    q.done("ns/a");
    expect(q.len()).toBe(0);
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add("ns/x");
    await expect(next).resolves.toBe("ns/x");
  });

  it("addAfter delivers the key after the delay, the earliest pending delay winning", async () => {
    const q = new WorkQueue();
    q.addAfter("ns/a", 1_000);
    q.addAfter("ns/a", 200);
    q.addAfter("ns/a", 5_000);
    expect(q.delayedLen()).toBe(1);
    await vi.advanceTimersByTimeAsync(199);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await drainReady(q)).toEqual(["ns/a"]);
  });

  it("backs off exponentially per key on addRateLimited and resets on forget", async () => {
    const q = new WorkQueue({ random: noJitter });
    expect(q.addRateLimited("ns/a")).toBe(5);
    await vi.advanceTimersByTimeAsync(5);
    expect(await drainReady(q)).toEqual(["ns/a"]);
    expect(q.addRateLimited("ns/a")).toBe(10);
    await vi.advanceTimersByTimeAsync(10);
    await drainReady(q);
    expect(q.addRateLimited("ns/a")).toBe(20);
    expect(q.addRateLimited("ns/b")).toBe(5);
    expect(q.numRequeues("ns/a")).toBe(3);
    q.forget("ns/a");
    expect(q.numRequeues("ns/a")).toBe(0);
    expect(q.addRateLimited("ns/a")).toBe(5);
  });

  it("caps the backoff at five minutes", () => {
    const q = new WorkQueue({ random: noJitter });
    let last = 0;
    for (let i = 0; i < 40; i++) last = q.addRateLimited("ns/a");
    expect(last).toBe(300_000);
  });

  it("reports its depth on every change", async () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add("a");
    q.add("b");
    const k = await q.get();
    q.done(k!);
    expect(depths).toEqual([1, 2, 1]);
  });

  it("shutDown with drain hands out what is queued, ignores new adds and resolves when all are done", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.addAfter("c", 1_000);
    const inFlight = await q.get();
    let drained = false;
    const shut = q.shutDown().then(() => (drained = true));
    q.add("d");
    expect(q.delayedLen()).toBe(0);
    const next = await q.get();
    expect(next).toBe("b");
    q.done(next!);
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(inFlight!);
    await shut;
    expect(drained).toBe(true);
    await expect(q.get()).resolves.toBeUndefined();
  });

  it("shutDown without drain drops queued keys but waits for the ones in flight", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    const inFlight = await q.get();
    q.add("a");
    let drained = false;
    const shut = q.shutDown({ drain: false }).then(() => (drained = true));
    await expect(q.get()).resolves.toBeUndefined();
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(inFlight!);
    await shut;
    expect(q.len()).toBe(0);
  });

  it("releases idle workers on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = [q.get(), q.get()];
    await q.shutDown();
    await expect(Promise.all(waiting)).resolves.toEqual([undefined, undefined]);
  });
});
