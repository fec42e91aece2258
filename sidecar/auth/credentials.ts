/**
 * Where a request's token comes from (pure). Tunnels: `Proxy-Authorization: Bearer`, nothing else. Other requests:
 * `Authorization: Bearer`, the configured cookie, and the configured header — the latter provides the token only
 * when the socket peer is a trusted proxy (an ingress that authenticated the user). Tokens in URLs are never read.
 *
 * Contract: `extractToken(headers, tunnel, sources, fromTrustedProxy)` returns the one token the request carries or
 * throws a `SidecarError`:
 *   CREDENTIALS_AMBIGUOUS (400)  the token appears in more than one place (or twice in one: two cookies of that
 *                                name, two values of the token header) and the copies differ — whichever we chose,
 *                                the application or another proxy might read the other. The token header counts as
 *                                a place even from an untrusted peer: it cannot provide the token then, but a
 *                                different token in it is still a second credential.
 *   TOKEN_MALFORMED              an `Authorization` (`Proxy-Authorization`) header that is not a bearer token
 *   TOKEN_MISSING                no token anywhere it may come from
 * Two `Authorization` (`Proxy-Authorization`) headers cannot be seen here (Node keeps the first in `headers`): the
 * proxy refuses them from the raw headers with `repeatedCredentialHeader` before admission.
 */
import type { IncomingHttpHeaders } from "node:http";
import { SidecarError } from "../errors.ts";

export interface CredentialSources {
  /** Cookie name that may carry the token ("" = none). */
  cookie: string;
  /** Lower-case header name set by a trusted ingress ("" = none). */
  header: string;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

export function extractToken(headers: IncomingHttpHeaders, tunnel: boolean, sources: CredentialSources, fromTrustedProxy: boolean): string {
  if (tunnel) {
    const proxyAuthorization = headers["proxy-authorization"];
    if (proxyAuthorization !== undefined) return bearer(proxyAuthorization);
    throw new SidecarError("TOKEN_MISSING", "Tunnels need a bearer token in Proxy-Authorization.");
  }
  let token = headers.authorization === undefined ? undefined : bearer(headers.authorization);
  if (sources.cookie !== "" && headers.cookie !== undefined) token = agreed(token, cookieToken(headers.cookie, sources.cookie));
  if (sources.header !== "") {
    const fromHeader = headerToken(headers[sources.header]);
    if (token !== undefined) token = agreed(token, fromHeader);
    else if (fromTrustedProxy) token = fromHeader;
  }
  if (token === undefined) throw new SidecarError("TOKEN_MISSING", "No bearer token was presented.");
  return token;
}

/**
 * Whether the raw header list repeats the credential header (`Authorization`, or `Proxy-Authorization` for a
 * tunnel), which Node would fold to its first copy. Names are compared case-insensitively.
 */
export function repeatedCredentialHeader(rawHeaders: readonly string[], tunnel: boolean): boolean {
  const wanted = tunnel ? "proxy-authorization" : "authorization";
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? "";
    if (name.length === wanted.length && name.toLowerCase() === wanted && ++seen > 1) return true;
  }
  return false;
}

export function ambiguousCredentials(): SidecarError {
  return new SidecarError("CREDENTIALS_AMBIGUOUS", "The request carries more than one credential and they differ; send exactly one token.");
}

function bearer(value: string): string {
  const match = BEARER.exec(value);
  if (match?.[1] === undefined) throw new SidecarError("TOKEN_MALFORMED", "The authorization header is not a bearer token.");
  return match[1];
}

/** `a` and `b` are the same token (or one of them is absent): that token; else the request is ambiguous. */
function agreed(a: string | undefined, b: string | undefined): string | undefined {
  if (a !== undefined && b !== undefined && a !== b) throw ambiguousCredentials();
  return a ?? b;
}

/** The token in every cookie named `name` (all copies must agree); undefined when none has a value. */
function cookieToken(header: string, name: string): string | undefined {
  let token: string | undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      if (value !== "") token = agreed(token, value);
    }
  }
  return token;
}

/** The token in the ingress header; repeated headers arrive joined with ", " and must agree. */
function headerToken(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  let token: string | undefined;
  for (const part of (Array.isArray(value) ? value.join(",") : value).split(",")) {
    const candidate = part.trim().replace(/^Bearer +/i, "");
    if (candidate !== "") token = agreed(token, candidate);
  }
  return token;
}
