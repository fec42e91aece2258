/**
 * The date claims of a verified payload (pure; RFC 7519 §2 NumericDate).
 *
 * Contract: `tokenDates(payload, limits, nowMs)` returns `{ issuedAt, expiresAt }` (epoch seconds) or throws a
 * `SidecarError` (401):
 *   TOKEN_INVALID            `exp` or `iat` missing or not a number, or `exp`, `iat` or `nbf` not finite — JSON
 *                            `1e400` parses to Infinity, and jose compares it like any number, so a token with
 *                            `exp: 1e400` would never expire
 *   TOKEN_NOT_YET_VALID      `iat` later than now + clock tolerance (jose checks it only with maxTokenAge)
 *   TOKEN_LIFETIME_TOO_LONG  `exp − iat` above the issuer's `maxTokenLifetimeSeconds`
 * jose has already checked `exp` and `nbf` against the clock; this adds what it does not.
 */
import type { JWTPayload } from "jose";
import { SidecarError } from "../errors.ts";

export interface DateLimits {
  clockToleranceSeconds: number;
  maxTokenLifetimeSeconds: number;
}

export function tokenDates(payload: JWTPayload, limits: DateLimits, nowMs: number): { issuedAt: number; expiresAt: number } {
  const { exp, iat, nbf } = payload;
  if (typeof exp !== "number" || typeof iat !== "number") throw new SidecarError("TOKEN_INVALID", "The token's exp and iat must be numbers.");
  for (const [claim, value] of [
    ["exp", exp],
    ["iat", iat],
    ["nbf", nbf],
  ] as const) {
    if (value !== undefined && !Number.isFinite(value)) {
      throw new SidecarError("TOKEN_INVALID", `The token's "${claim}" claim is not a finite NumericDate.`);
    }
  }
  if (iat > nowMs / 1000 + limits.clockToleranceSeconds) throw new SidecarError("TOKEN_NOT_YET_VALID", "The token was issued in the future.");
  if (exp - iat > limits.maxTokenLifetimeSeconds) {
    throw new SidecarError(
      "TOKEN_LIFETIME_TOO_LONG",
      `The token is valid for longer (exp − iat) than this issuer's tokens may be: at most ${limits.maxTokenLifetimeSeconds} s.`,
    );
  }
  return { issuedAt: iat, expiresAt: exp };
}
