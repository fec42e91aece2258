import { describe, expect, it } from "vitest";
import { SharedExclusiveGate } from "../../../../operator/controller/bus-context.ts";

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("the publish / re-assert gate", () => {
  it("re-assertion waits for publishes in flight, and publishes that arrive meanwhile wait for it", async () => {
    const gate = new SharedExclusiveGate();
    const order: string[] = [];
    const inFlight = deferred();
    const publishing = gate.shared(async () => {
      order.push("publish-1 start");
      await inFlight.promise;
      order.push("publish-1 end");
    });
    const reasserting = gate.exclusive(async () => {
      order.push("reassert");
      await Promise.resolve();
    });
    const later = gate.shared(async () => {
      order.push("publish-2");
      await Promise.resolve();
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(["publish-1 start"]);
    inFlight.resolve();
    await Promise.all([publishing, reasserting, later]);
    expect(order).toEqual(["publish-1 start", "publish-1 end", "reassert", "publish-2"]);
  });

  it("a failing holder releases the gate", async () => {
    const gate = new SharedExclusiveGate();
    await expect(gate.exclusive(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(gate.shared(() => Promise.resolve(7))).resolves.toBe(7);
  });
});
