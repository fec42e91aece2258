import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  OperatorError,
  TerminalError,
  describeError,
  isConflict,
  isGone,
  isNotFound,
  isTerminalError,
} from "../../../operator/errors.ts";

const apiError = (code: number, body: unknown = "") => new ApiException(code, `HTTP-Code: ${code}\nMessage: x\nBody: ...`, body, {});

describe("error classification", () => {
  it("maps ApiException status codes", () => {
    expect(isNotFound(apiError(404))).toBe(true);
    expect(isConflict(apiError(409))).toBe(true);
    expect(isGone(apiError(410))).toBe(true);
    expect(isGone(Object.assign(new Error("Gone"), { statusCode: 410 }))).toBe(true);
    expect(isNotFound(new Error("404"))).toBe(false);
    expect(isConflict(undefined)).toBe(false);
  });

  it("keeps code and cause, and marks terminal errors", () => {
    const cause = new Error("root");
    const err = new OperatorError("X_CODE", "wrapped", { cause });
    expect(err.code).toBe("X_CODE");
    expect(err.cause).toBe(cause);
    expect(isTerminalError(new TerminalError("never valid"))).toBe(true);
    expect(isTerminalError(err)).toBe(false);
    expect(new TerminalError("x").code).toBe("RECONCILE_TERMINAL");
  });

  it("describes errors in one short line with the HTTP status", () => {
    expect(describeError(apiError(409))).toBe("HTTP 409: HTTP-Code: 409");
    expect(describeError("plain")).toBe("plain");
    expect(describeError(new Error("a".repeat(400))).length).toBeLessThan(310);
  });
});
