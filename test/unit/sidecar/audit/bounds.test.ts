import { describe, expect, it } from "vitest";
import { ActivityTracker } from "../../../../sidecar/audit/activity.ts";
import { BoundedQueue } from "../../../../sidecar/audit/queue.ts";
import { RefusalFolder } from "../../../../sidecar/audit/refusals.ts";

describe("the bounded audit queue", () => {
  it("keeps at most its capacity, drops and counts the rest, drains oldest first", () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4, 5].map((n) => q.push(n))).toEqual([true, true, true, false, false]);
    expect(q.size).toBe(3);
    expect(q.droppedTotal).toBe(2);
    expect(q.drain(2)).toEqual([1, 2]);
    expect(q.push(6)).toBe(true);
    expect(q.drain(10)).toEqual([3, 6]);
    expect(q.takeDropped()).toBe(2);
    expect(q.takeDropped()).toBe(0);
    expect(q.droppedTotal).toBe(2);
  });

  it("wraps around its ring many times without losing order", () => {
    const q = new BoundedQueue<number>(4);
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      q.push(i);
      if (i % 3 === 2) out.push(...q.drain(3));
    }
    out.push(...q.drain(10));
    expect(out).toEqual([...Array(100).keys()]);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
  });
});

describe("activity throttling", () => {
  const alice = { who: "alice" };
  const bob = { who: "bob" };

  it("reports the first request of a session at once, then at most once per interval with the requests in between", () => {
    const t = new ActivityTracker<object>({ intervalMs: 1000 });
    t.note(alice, "203.0.113.7", "shop/web", "engineers", 0);
    expect(t.due(0)).toEqual([{ key: alice, requests: 1, clientIP: "203.0.113.7", policy: "shop/web", rule: "engineers", lastAt: 0 }]);
    for (let i = 1; i <= 5; i++) t.note(alice, "203.0.113.8", "shop/web", "engineers", i * 100);
    expect(t.due(600)).toEqual([]);
    expect(t.due(1000)).toEqual([{ key: alice, requests: 5, clientIP: "203.0.113.8", policy: "shop/web", rule: "engineers", lastAt: 500 }]);
    expect(t.due(5000)).toEqual([]); // nothing since
  });

  it("forgets quiet sessions and tracks at most maxSlots (the rest counted as overflow)", () => {
    const t = new ActivityTracker<object>({ intervalMs: 1000, forgetAfterMs: 10_000, maxSlots: 1 });
    t.note(alice, "203.0.113.7", "p", "r", 0);
    t.note(bob, "203.0.113.9", "p", "r", 0);
    expect(t.overflow).toBe(1);
    t.due(0);
    expect(t.size).toBe(1);
    t.due(20_000);
    expect(t.size).toBe(0);
    t.note(bob, "203.0.113.9", "p", "r", 20_001);
    expect(t.flushAll().map((r) => r.key)).toEqual([bob]);
  });
});

describe("refusal folding", () => {
  it("reports the first refusal of a key, folds the repeats of its window into one count", () => {
    const f = new RefusalFolder<string>(1000, 2);
    expect(f.note("s1|DENIED", "a", 0)).toBe(true);
    expect(f.note("s1|DENIED", "b", 10)).toBe(false);
    expect(f.note("s1|DENIED", "c", 20)).toBe(false);
    expect(f.note("s2|DENIED", "d", 30)).toBe(true);
    expect(f.note("s3|DENIED", "e", 40)).toBe(false); // over maxKeys
    expect(f.overflow).toBe(1);
    expect(f.flush(500)).toEqual([]);
    expect(f.flush(1030)).toEqual([{ value: "c", count: 2 }]);
    expect(f.note("s1|DENIED", "f", 1100)).toBe(true); // a new window
  });
});
