import { describe, expect, it } from "vitest";
import { sleep } from "../../../lib/sleep.ts";

describe("sleep", () => {
  it("resolves when the signal aborts, without rejecting, and at once when it already has", async () => {
    const controller = new AbortController();
    const sleeping = sleep(60_000, controller.signal);
    controller.abort();
    await expect(sleeping).resolves.toBeUndefined();
    await expect(sleep(60_000, AbortSignal.abort())).resolves.toBeUndefined();
  });

  it("resolves after the time when nothing aborts", async () => {
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});
