import { describe, expect, it } from "vitest";
import { triggerHandler } from "../../../../operator/controller/manager.ts";
import { WorkQueue } from "../../../../operator/controller/workqueue.ts";
import { drainReady } from "./drain-ready.ts";

describe("WorkQueue priorities (resyncs behind changes)", () => {
  it("hands out every normally queued key before any low-priority key, each in arrival order", async () => {
    const q = new WorkQueue();
    q.addLow("ns/r1");
    q.addLow("ns/r2");
    q.add("ns/new1");
    q.addLow("ns/r3");
    q.add("ns/new2");
    expect(q.len()).toBe(5);
    expect(q.lowLen()).toBe(3);
    expect(await drainReady(q)).toEqual(["ns/new1", "ns/new2", "ns/r1", "ns/r2", "ns/r3"]);
    expect(q.len()).toBe(0);
  });

  it("a change to a key waiting at low priority moves it ahead, once", async () => {
    const q = new WorkQueue();
    for (const k of ["ns/a", "ns/b", "ns/c"]) q.addLow(k);
    q.add("ns/c");
    expect(q.len()).toBe(3);
    expect(q.lowLen()).toBe(2);
    expect(await drainReady(q)).toEqual(["ns/c", "ns/a", "ns/b"]);
  });

  it("a resync of a key already queued normally changes nothing", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    q.addLow("ns/a");
    q.addLow("ns/b");
    expect(q.len()).toBe(2);
    expect(await drainReady(q)).toEqual(["ns/a", "ns/b"]);
  });

  it("a key resynced while processing is queued again at low priority after done; changed meanwhile, at normal", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    expect(await q.get()).toBe("ns/a");
    q.addLow("ns/a");
    q.add("ns/b");
    expect(q.len()).toBe(1);
    q.done("ns/a");
    q.add("ns/c");
    expect(await drainReady(q)).toEqual(["ns/b", "ns/c", "ns/a"]);

    q.add("ns/x");
    expect(await q.get()).toBe("ns/x");
    q.addLow("ns/x");
    q.add("ns/x");
    q.addLow("ns/y");
    q.done("ns/x");
    expect(await drainReady(q)).toEqual(["ns/x", "ns/y"]);
  });

  it("a promoted key re-added at low priority is handed out once", async () => {
    const q = new WorkQueue();
    q.addLow("ns/a");
    q.add("ns/a");
    expect(await q.get()).toBe("ns/a");
    q.done("ns/a");
    q.addLow("ns/a");
    q.addLow("ns/b");
    expect(await drainReady(q)).toEqual(["ns/a", "ns/b"]);
    q.add("ns/z");
    expect(await drainReady(q)).toEqual(["ns/z"]);
  });

  it("wakes a waiting worker with a low-priority key", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.addLow("ns/r");
    await expect(next).resolves.toBe("ns/r");
    expect(q.len()).toBe(0);
  });

  it("counts both priorities in its depth and drops both on shutDown without drain", async () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add("ns/a");
    q.addLow("ns/b");
    expect(depths).toEqual([1, 2]);
    await q.shutDown({ drain: false });
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
    q.addLow("ns/c");
    expect(q.len()).toBe(0);
  });
});

describe("triggerHandler", () => {
  function recorder(): { add(key: string): void; addLow(key: string): void; calls: string[] } {
    const calls: string[] = [];
    return { calls, add: (k) => calls.push(`add ${k}`), addLow: (k) => calls.push(`low ${k}`) };
  }

  it("queues a change normally and a resync at low priority (default)", () => {
    const q = recorder();
    const handle = triggerHandler({}, q);
    handle("ns/a", "add");
    handle("ns/a", "update");
    handle("ns/a", "delete");
    handle("ns/a", "resync");
    expect(q.calls).toEqual(["add ns/a", "add ns/a", "add ns/a", "low ns/a"]);
  });

  it("maps keys, and ignores resyncs when told to", () => {
    const q = recorder();
    const handle = triggerHandler({ map: (podKey) => [`${podKey.split("/")[0] ?? ""}/p1`, `${podKey.split("/")[0] ?? ""}/p2`], resync: "ignore" }, q);
    handle("ns/pod", "update");
    handle("ns/pod", "resync");
    expect(q.calls).toEqual(["add ns/p1", "add ns/p2"]);
  });

  it("a filtering map applies to resyncs too", () => {
    const q = recorder();
    const handle = triggerHandler({ map: (key) => (key === "ns/done" ? [] : [key]) }, q);
    handle("ns/done", "resync");
    handle("ns/live", "resync");
    expect(q.calls).toEqual(["low ns/live"]);
  });
});
