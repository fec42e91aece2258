import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  ADMISSION_ERROR_STATUS,
  ConfigError,
  ERROR_CODES,
  OperatorError,
  TerminalError,
  describeError,
  errorFields,
  isOperatorError,
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
    const err = new OperatorError("KUBE_API", "wrapped", { cause });
    expect(err.code).toBe("KUBE_API");
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

describe("the error catalogue", () => {
  it("documents every code, and gives every webhook refusal code an HTTP status", () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(meaning.length).toBeGreaterThan(10);
      if (code.startsWith("ADMISSION_")) expect(Object.keys(ADMISSION_ERROR_STATUS)).toContain(code);
    }
    expect(ADMISSION_ERROR_STATUS).toMatchObject({ ADMISSION_BAD_JSON: 400, ADMISSION_TOO_LARGE: 413, ADMISSION_BAD_CONTENT_TYPE: 415 });
  });

  it("codes configuration errors with the key named", () => {
    const err = new ConfigError("VIGIL_REDIS_URL", "is required");
    expect(err).toMatchObject({ code: "CONFIG_INVALID", key: "VIGIL_REDIS_URL", message: "VIGIL_REDIS_URL: is required" });
    expect(isOperatorError(err, "CONFIG_INVALID")).toBe(true);
    expect(isOperatorError(err, "BUS_UNAVAILABLE")).toBe(false);
    expect(isOperatorError(new Error("x"))).toBe(false);
  });
});

describe("errorFields (logging at the edge)", () => {
  it("gives the code and the cause chain of a wrapped error, without a stack", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    const wrapped = new OperatorError("BUS_UNAVAILABLE", "the policy bus (Redis) did not accept the operation", {
      cause: new Error("command failed", { cause: refused }),
    });
    expect(errorFields(wrapped)).toEqual({
      err: "the policy bus (Redis) did not accept the operation",
      code: "BUS_UNAVAILABLE",
      cause: "command failed ← connect ECONNREFUSED 127.0.0.1:6379",
    });
  });

  it("names the HTTP status of API errors and keeps the stack of unexpected ones only", () => {
    expect(errorFields(apiError(403))).toEqual({ err: "HTTP 403: HTTP-Code: 403" });
    const bug = new TypeError("Cannot read properties of undefined");
    expect(errorFields(bug)).toMatchObject({ err: "Cannot read properties of undefined", stack: bug.stack });
    expect(errorFields("a string")).toEqual({ err: "a string" });
  });
});
