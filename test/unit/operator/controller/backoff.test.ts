import { describe, expect, it } from "vitest";
import { KeyedBackoff, backoffDelay, cryptoUnit } from "../../../../operator/controller/backoff.ts";

const policy = { baseMs: 5, capMs: 300_000, jitter: 0.2 };

describe("backoff", () => {
  it("doubles from the base per failure and stops at the cap", () => {
    const noJitter = () => 0;
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(policy, n, noJitter))).toEqual([5, 10, 20, 40, 5120]);
    expect(backoffDelay(policy, 30, noJitter)).toBe(300_000);
    expect(backoffDelay(policy, 10_000, noJitter)).toBe(300_000);
  });

  it("jitters downwards by at most the jitter fraction", () => {
    expect(backoffDelay(policy, 3, () => 0.999_999)).toBe(32);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(policy, 20, cryptoUnit);
      expect(d).toBeGreaterThanOrEqual(240_000);
      expect(d).toBeLessThanOrEqual(300_000);
    }
  });

  it("counts failures per key and forgets them", () => {
    const b = new KeyedBackoff(policy, () => 0);
    expect([b.next("a"), b.next("a"), b.next("a"), b.next("b")]).toEqual([5, 10, 20, 5]);
    expect(b.failures("a")).toBe(3);
    b.forget("a");
    expect(b.failures("a")).toBe(0);
    expect(b.next("a")).toBe(5);
  });
});
