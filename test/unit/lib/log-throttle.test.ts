import { describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { LogThrottle } from "../../../lib/log-throttle.ts";
import { capture } from "./capture.ts";

function setup(intervalMs = 1000) {
  const { lines, destination } = capture();
  const clock = { now: 0 };
  const throttle = new LogThrottle({
    log: createLogger({ name: "t", destination }),
    message: "connection error",
    intervalMs,
    maxReasons: 2,
    now: () => clock.now,
  });
  return { lines, clock, throttle };
}

describe("LogThrottle", () => {
  it("logs a reason once per interval and then says how many repeats went unlogged", () => {
    const { lines, clock, throttle } = setup();
    expect(throttle.report("ECONNREFUSED", { err: "refused" })).toBe(true);
    clock.now = 500;
    expect(throttle.report("ECONNREFUSED", { err: "refused" })).toBe(false);
    expect(throttle.report("ECONNREFUSED", { err: "refused" })).toBe(false);
    clock.now = 1000;
    expect(throttle.report("ECONNREFUSED", { err: "refused" })).toBe(true);
    expect(lines.map((l) => [l["msg"], l["err"], l["repeated"]])).toEqual([
      ["connection error", "refused", undefined],
      ["connection error", "refused", 2],
    ]);
    expect(lines[0]?.["level"]).toBe("warn");
  });

  it("logs a new reason at once, and forgets on reset", () => {
    const { lines, throttle } = setup();
    throttle.report("ECONNREFUSED");
    throttle.report("ECONNREFUSED");
    expect(throttle.report("NOAUTH")).toBe(true);
    expect(throttle.reset()).toBe(1);
    expect(throttle.report("ECONNREFUSED")).toBe(true);
    expect(lines).toHaveLength(3);
  });

  it("remembers a bounded number of reasons", () => {
    const { lines, throttle } = setup();
    for (const reason of ["a", "b", "c", "a"]) throttle.report(reason);
    expect(lines).toHaveLength(4);
  });
});
