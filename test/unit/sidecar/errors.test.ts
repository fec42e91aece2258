import { describe, expect, it } from "vitest";
import { ConfigError, denialError, ERROR_STATUS, errorBody, SidecarError } from "../../../sidecar/errors.ts";

describe("error catalogue", () => {
  it("maps authentication to 401, authorization to 403, staleness to 503, upstream to 502/504", () => {
    for (const code of ["TOKEN_MISSING", "TOKEN_EXPIRED", "TOKEN_LIFETIME_TOO_LONG", "JWKS_UNAVAILABLE", "SESSION_REVOKED", "SESSION_IDLE"] as const) {
      expect(ERROR_STATUS[code]).toBe(401);
    }
    for (const code of ["NO_POLICY", "DENIED_BY_RULE", "NO_MATCHING_RULE"] as const) expect(ERROR_STATUS[code]).toBe(403);
    expect(ERROR_STATUS.POLICY_STALE).toBe(503);
    expect(ERROR_STATUS.BAD_REQUEST).toBe(400);
    expect(ERROR_STATUS.HEADERS_TOO_LARGE).toBe(431);
    expect(ERROR_STATUS.REQUEST_TIMEOUT).toBe(408);
    expect(ERROR_STATUS.UPSTREAM_UNAVAILABLE).toBe(502);
    expect(ERROR_STATUS.UPSTREAM_TIMEOUT).toBe(504);
  });

  it("carries code, status, message and cause", () => {
    const cause = new Error("jose said no");
    const err = new SidecarError("TOKEN_INVALID", "The token's signature is not valid.", { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("TOKEN_INVALID");
    expect(err.status).toBe(401);
    expect(err.cause).toBe(cause);
  });

  it("builds the refusal body without the cause", () => {
    const err = new SidecarError("TOKEN_INVALID", "The token's signature is not valid.", { cause: new Error("eyJhbGciOi...") });
    expect(errorBody(err)).toEqual({ code: "TOKEN_INVALID", message: "The token's signature is not valid." });
    expect(JSON.stringify(errorBody(err))).not.toContain("eyJ");
  });

  it("names policy and rule for policy denials", () => {
    const err = denialError({
      allowed: false,
      code: "DENIED_BY_RULE",
      reason: 'Denied by rule "no-admin" of policy shop/web.',
      policy: "shop/web",
      rule: "no-admin",
    });
    expect(err.status).toBe(403);
    expect(errorBody(err)).toEqual({ code: "DENIED_BY_RULE", message: 'Denied by rule "no-admin" of policy shop/web.', policy: "shop/web", rule: "no-admin" });
  });

  it("hides unexpected errors behind INTERNAL", () => {
    expect(errorBody(new TypeError("secret detail"))).toEqual({ code: "INTERNAL", message: "The sidecar could not process this request." });
    expect(errorBody("thrown string")).toMatchObject({ code: "INTERNAL" });
  });

  it("names the bad key in configuration errors", () => {
    const err = new ConfigError("issuers[0].algorithms", "must not be empty");
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.key).toBe("issuers[0].algorithms");
    expect(err.message).toContain("issuers[0].algorithms");
  });
});
