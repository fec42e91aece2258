/**
 * Session IDs: `s_` + 22 base64url characters encoding 16 bytes from the CSPRNG (128 bits).
 * `isSessionId` is the strict format check to run before any lookup: exact length, alphabet, and
 * a canonical final character (16 bytes leave 4 unused low bits, so it is one of `A Q g w`).
 */
import { randomBytes } from "node:crypto";

const SESSION_ID = /^s_[A-Za-z0-9_-]{21}[AQgw]$/;

export function newSessionId(): string {
  return `s_${randomBytes(16).toString("base64url")}`;
}

export function isSessionId(value: unknown): value is string {
  return typeof value === "string" && SESSION_ID.test(value);
}
