/**
 * Client-supplied identity headers out, verified identity headers in (in every spelling, `_` for `-` included: oauth2-proxy CVE-2025-64484).
 *
 * Contract: `sanitizeHeaders(rawHeaders)` takes Node's flat `req.rawHeaders` array
 * (`[name, value, name, value, …]`, duplicates and spelling preserved) and returns a new flat
 * array without any header an application could mistake for identity, compared in canonical form
 * (lower-case, `_` → `-`, so `X_Forwarded_User`, `x-forwarded-user` and `X-FORWARDED-USER` are one
 * name): every `x-vigil-*`, `x-forwarded-user|email|groups|preferred-username`,
 * `x-auth-request-*`, `x-remote-user|group|groups`, `remote-user`, and `proxy-authorization`.
 * Identity names listed in a `Connection` header are removed from it (so `Connection: close,
 * X-Vigil-Subject` cannot make a hop-by-hop pass delete the headers we inject); an emptied
 * `Connection` header is dropped. Everything else passes untouched, in order.
 *
 * `identityHeaders(principal, sessionId)` returns `x-vigil-subject`, `x-vigil-email` (when known),
 * `x-vigil-groups` and `x-vigil-session`. Values are injective and header-safe: `%`, control
 * characters (CR, LF, NUL…), non-ASCII and edge spaces are percent-encoded (UTF-8), and in the
 * groups list `,` is encoded too, so a group named `a,admin` can never read as two groups.
 */
import type { Principal } from "../auth/types.ts";

const EXACT = new Set([
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-groups",
  "x-forwarded-preferred-username",
  "x-remote-user",
  "x-remote-group",
  "x-remote-groups",
  "remote-user",
  "proxy-authorization",
]);

export function canonicalHeaderName(name: string): string {
  return name.trim().toLowerCase().replaceAll("_", "-");
}

export function isIdentityHeader(name: string): boolean {
  return isCanonicalIdentityName(canonicalHeaderName(name));
}

/** `isIdentityHeader` for a name already in canonical form (`canonicalHeaderName`). */
export function isCanonicalIdentityName(canonical: string): boolean {
  return EXACT.has(canonical) || canonical.startsWith("x-vigil-") || canonical.startsWith("x-auth-request-");
}

export function sanitizeHeaders(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? "";
    let value = rawHeaders[i + 1] ?? "";
    if (isIdentityHeader(name)) continue;
    if (canonicalHeaderName(name) === "connection") {
      value = value
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "" && !isIdentityHeader(t))
        .join(", ");
      if (value === "") continue;
    }
    out.push(name, value);
  }
  return out;
}

export const IDENTITY_HEADERS = {
  subject: "x-vigil-subject",
  email: "x-vigil-email",
  groups: "x-vigil-groups",
  session: "x-vigil-session",
} as const;

export function identityHeaders(principal: Principal, sessionId: string): Record<string, string> {
  const headers: Record<string, string> = {
    [IDENTITY_HEADERS.subject]: encodeHeaderValue(principal.subject),
    [IDENTITY_HEADERS.groups]: principal.groups.map((g) => encodeHeaderValue(g, true)).join(","),
    [IDENTITY_HEADERS.session]: encodeHeaderValue(sessionId),
  };
  if (principal.email !== undefined) headers[IDENTITY_HEADERS.email] = encodeHeaderValue(principal.email);
  return headers;
}

/**
 * Percent-encode everything outside visible ASCII and space, plus `%` itself (and `,` in list
 * items), and spaces at either end (which HTTP parsers trim). Plain ASCII values pass unchanged.
 */
export function encodeHeaderValue(value: string, listItem = false): string {
  let out = "";
  const last = value.length - 1;
  let i = 0;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    const edgeSpace = code === 0x20 && (i === 0 || i + ch.length - 1 === last);
    const unsafe = code < 0x20 || code > 0x7e || ch === "%" || (listItem && ch === ",") || edgeSpace;
    out += unsafe ? percentEncode(ch) : ch;
    i += ch.length;
  }
  return out;
}

/** UTF-8 percent-encoding; a lone surrogate becomes U+FFFD (never throws, unlike encodeURIComponent). */
function percentEncode(ch: string): string {
  let out = "";
  for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}
