import { describe, expect, it } from "vitest";
import { DurationError, parseDuration, tryParseDuration } from "../../../../operator/api/duration.ts";

describe("parseDuration", () => {
  it.each<[string, number]>([
    ["90s", 90],
    ["30m", 1800],
    ["8h", 28800],
    ["1h30m", 5400],
    ["1h0m30s", 3630],
    ["1.5h", 5400],
    ["250ms", 0.25],
    ["0", 0],
    ["0s", 0],
  ])("reads %j as %d seconds", (input, seconds) => {
    expect(parseDuration(input)).toBeCloseTo(seconds, 9);
  });

  it.each(["", "5 parsecs", "10", "-1h", "+1h", "1d", "h", "1h 30m", "1.h2", "1H", "١h"])("refuses %j with DURATION_INVALID", (input) => {
    expect(() => parseDuration(input)).toThrow(expect.objectContaining({ code: "DURATION_INVALID", name: "DurationError" }));
  });

  it("refuses durations beyond Go's range, as Go does", () => {
    expect(() => parseDuration("9999999h")).toThrow(expect.objectContaining({ code: "DURATION_OUT_OF_RANGE" }));
    expect(parseDuration("2562047h")).toBe(2562047 * 3600);
  });

  it("refuses over-long input without echoing all of it", () => {
    const error = tryParseDuration("1".repeat(10_000));
    expect(error.ok).toBe(false);
    if (!error.ok) {
      expect(error.error).toBeInstanceOf(DurationError);
      expect(error.error.message.length).toBeLessThan(200);
    }
  });

  it("refuses non-string input with a typed error", () => {
    expect(() => parseDuration(42 as unknown as string)).toThrow(expect.objectContaining({ code: "DURATION_INVALID" }));
  });
});
