import { describe, expect, it } from "vitest";
import { tokenDates } from "../../../../sidecar/auth/token-dates.ts";
import { SidecarError } from "../../../../sidecar/errors.ts";

const NOW_MS = 1_800_000_000_000;
const now = NOW_MS / 1000;
const limits = { clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 86_400 };

function code(payload: Record<string, unknown>): string {
  try {
    tokenDates(payload, limits, NOW_MS);
  } catch (err) {
    if (err instanceof SidecarError) return err.code;
    throw err;
  }
  return "accepted";
}

describe("token date claims", () => {
  it("returns iat and exp of an ordinary token", () => {
    expect(tokenDates({ iat: now, exp: now + 600, nbf: now }, limits, NOW_MS)).toEqual({ issuedAt: now, expiresAt: now + 600 });
  });

  // JSON.parse("1e400") is Infinity: these are what a token carrying 1e400 / -1e400 decodes to.
  it.each([
    ["exp", { iat: now, exp: JSON.parse("1e400") as number }],
    ["exp", { iat: now, exp: JSON.parse("-1e400") as number }],
    ["iat", { iat: JSON.parse("-1e400") as number, exp: now + 600 }],
    ["iat", { iat: JSON.parse("1e400") as number, exp: now + 600 }],
    ["nbf", { iat: now, exp: now + 600, nbf: JSON.parse("-1e400") as number }],
    ["nbf", { iat: now, exp: now + 600, nbf: Number.NaN }],
  ])("refuses a non-finite %s (%j)", (claim, payload) => {
    expect(code(payload)).toBe("TOKEN_INVALID");
    expect(() => tokenDates(payload, limits, NOW_MS)).toThrow(`"${claim}" claim is not a finite NumericDate`);
  });

  it("refuses missing or non-numeric exp and iat", () => {
    expect(code({ iat: now })).toBe("TOKEN_INVALID");
    expect(code({ exp: now + 60 })).toBe("TOKEN_INVALID");
    expect(code({ iat: String(now), exp: now + 60 })).toBe("TOKEN_INVALID");
  });

  it("refuses iat in the future beyond the tolerance, accepts it within", () => {
    expect(code({ iat: now + 31, exp: now + 600 })).toBe("TOKEN_NOT_YET_VALID");
    expect(code({ iat: now + 30, exp: now + 600 })).toBe("accepted");
  });

  it("bounds the lifetime exp − iat by the issuer's maximum, inclusive", () => {
    expect(code({ iat: now, exp: now + 86_400 })).toBe("accepted");
    expect(code({ iat: now, exp: now + 86_401 })).toBe("TOKEN_LIFETIME_TOO_LONG");
    expect(code({ iat: now - 86_000, exp: now + 1_000 })).toBe("TOKEN_LIFETIME_TOO_LONG");
    expect(tokenDates({ iat: now, exp: now + 3_600 }, { ...limits, maxTokenLifetimeSeconds: 3_600 }, NOW_MS).expiresAt).toBe(now + 3_600);
    expect(() => tokenDates({ iat: now, exp: now + 3_601 }, { ...limits, maxTokenLifetimeSeconds: 3_600 }, NOW_MS)).toThrow("at most 3600 s");
  });
});
