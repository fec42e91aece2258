/**
 * Where a request's token comes from (pure). Tunnels: `Proxy-Authorization: Bearer`. Other requests:
 * `Authorization: Bearer`, else the configured cookie, else the configured header — the latter only when the
 * socket peer is a trusted proxy (an ingress that authenticated the user). Tokens in URLs are never read.
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
  const authorization = tunnel ? headers["proxy-authorization"] : headers.authorization;
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (match?.[1] === undefined) throw new SidecarError("TOKEN_MALFORMED", "The authorization header is not a bearer token.");
    return match[1];
  }
  if (!tunnel && sources.cookie !== "") {
    const token = cookieValue(headers.cookie, sources.cookie);
    if (token !== undefined) return token;
  }
  if (!tunnel && sources.header !== "" && fromTrustedProxy) {
    const value = headers[sources.header];
    if (typeof value === "string" && value !== "") return value.replace(/^Bearer +/i, "");
  }
  throw new SidecarError("TOKEN_MISSING", tunnel ? "Tunnels need a bearer token in Proxy-Authorization." : "No bearer token was presented.");
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
