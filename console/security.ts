/**
 * The console's defences, pure (docs/decisions/console-0002-loopback-security.md):
 *
 * - **Host** must be this console's own origin (127.0.0.1 or localhost, this port): a page on another site whose
 *   name resolves to 127.0.0.1 (DNS rebinding) gets 403 before anything else runs.
 * - **Login token**: the URL printed by `kubectl vigil console` carries a random token; presenting it sets an
 *   HttpOnly, SameSite=Strict cookie holding a second random secret. Every other request needs that cookie, so
 *   another local user or process that can reach the port cannot act with this user's credentials.
 * - **State-changing requests** (POST) need an Origin (or, lacking it, a Referer) of this console and a CSRF token
 *   derived from the cookie's secret (HMAC), compared in constant time.
 * - **Headers**: a strict Content-Security-Policy (scripts and styles only from the console itself, no inline
 *   script, no eval, no framing), nosniff, no referrer, no caching of pages.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface ConsoleSecrets {
  /** In the printed URL; exchanged for the cookie. */
  loginToken: string;
  /** The cookie's value. */
  sessionSecret: string;
}

export const newSecrets = (): ConsoleSecrets => ({ loginToken: randomBytes(24).toString("base64url"), sessionSecret: randomBytes(32).toString("base64url") });

export const cookieName = (port: number): string => `vigil-console-${port}`;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on its own form POSTs.
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

export const allowedOrigins = (port: number): string[] => [`http://127.0.0.1:${port}`, `http://localhost:${port}`];

/** The Host header names this console (DNS-rebinding defence). */
export const hostAllowed = (host: string | undefined, port: number): boolean =>
  host !== undefined && (host === `127.0.0.1:${port}` || host === `localhost:${port}`);

/** A POST comes from a page of this console: its Origin, or its Referer when a browser sent no Origin. */
export function originAllowed(origin: string | undefined, referer: string | undefined, port: number): boolean {
  const origins = allowedOrigins(port);
  if (origin !== undefined) return origins.includes(origin);
  if (referer === undefined) return false;
  try {
    return origins.includes(new URL(referer).origin);
  } catch {
    return false;
  }
}

export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const csrfToken = (secrets: ConsoleSecrets): string => createHmac("sha256", secrets.sessionSecret).update("csrf").digest("base64url");

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export const sessionCookie = (port: number, secrets: ConsoleSecrets): string =>
  `${cookieName(port)}=${secrets.sessionSecret}; HttpOnly; SameSite=Strict; Path=/`;
