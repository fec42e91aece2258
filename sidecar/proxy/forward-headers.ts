/**
 * The request headers the application receives (pure).
 *
 * Contract: `upstreamHeaders(input)` starts from the client's raw headers and, in this order,
 *   1. drops client-supplied identity headers in every spelling (`sanitizeHeaders`), plus any
 *      `X-Forwarded-For` / `Forwarded` (case and `_`/`-` variants): the client IP is ours to state;
 *   2. drops hop-by-hop fields (RFC 9110 §7.6.1, see hop-by-hop.ts; Upgrade kept for handshakes);
 *   3. sets the body framing explicitly (chunked stays chunked, Content-Length kept, else none);
 *   4. withholds the request's credentials unless `credentials.forward`: `Authorization`, the configured token
 *      header (any spelling, always in spellings other than its own) and the configured token cookie (only that
 *      cookie: the others stay in `Cookie`); `Proxy-Authorization` is hop-by-hop and never forwarded;
 *   5. sets `X-Forwarded-For: <trusted client IP>` and the verified identity headers last, so
 *      nothing the client sent (not even `Connection: <our header>`) can remove or override them.
 * The result is a header object with lower-case names (duplicates as arrays) for `req.headers`,
 * which is the header object of the upstream request.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Principal } from "../auth/types.ts";
import { ALWAYS_HOP_BY_HOP, connectionTokens, framingHeaders } from "./hop-by-hop.ts";
import { identityHeaders, isCanonicalIdentityName } from "./identity-headers.ts";

/** What happens to the request's credentials on the way to the application (one object per server). */
export interface CredentialForwarding {
  /** Pass `Authorization`, the token header and the token cookie on unchanged. Default false: remove them. */
  forward: boolean;
  /** The token cookie's name ("" = none). */
  cookie: string;
  /** The token header's lower-case name ("" = none). */
  header: string;
}

export const NO_CREDENTIAL_FORWARDING: CredentialForwarding = Object.freeze({ forward: false, cookie: "", header: "" });

export interface ForwardInput {
  rawHeaders: readonly string[];
  /** Node's parsed view, for framing (`content-length`, `transfer-encoding`). */
  framing: { "content-length"?: string | undefined; "transfer-encoding"?: string | undefined };
  principal: Principal;
  sessionId: string;
  clientIp: string;
  upgrade: boolean;
  credentials: CredentialForwarding;
}

const OURS = new Set(["x-forwarded-for", "forwarded"]);
const NONE: ReadonlySet<string> = new Set();

/**
 * One pass over the raw headers with the same result as
 * `stripHopByHop(sanitizeHeaders(raw), { upgrade })` followed by the `OURS` / `x-vigil-*` filter
 * (the unit tests pin the behaviour). Identity names listed in `Connection` need no separate
 * removal here: the headers they name are identity headers, dropped anyway, and `Connection`
 * itself is hop-by-hop.
 */
export function upstreamHeaders(input: ForwardInput): IncomingHttpHeaders {
  const list = upstreamHeaderList(input);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < list.length; i += 2) add(out, list[i] ?? "", list[i + 1] ?? "");
  return out;
}

/**
 * The same headers as a flat `[name, value, …]` list with lower-case names, in the client's order, then the upgrade
 * pair, the framing, `x-forwarded-for` and the identity headers (none of which can already be in it: the filter drops
 * every client copy). This is what the HTTP path hands to `http.request`: a header list goes onto the wire as given
 * (each pair still validated), where a header object costs a `setHeader` call and its bookkeeping per field
 * (docs/decisions/perf-0002). Unlike a header object it does not get a `Host` added: the caller adds one if the
 * client sent none.
 */
export function upstreamHeaderList(input: ForwardInput): string[] {
  const raw = input.rawHeaders;
  const listed = hasConnectionHeader(raw) ? connectionTokens(raw) : NONE;
  const credentials = input.credentials;
  const out: string[] = [];
  let upgradeValue: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] ?? "").toLowerCase();
    const value = raw[i + 1] ?? "";
    // `upgrade` is not an identity name, so noting it before the identity check changes nothing.
    if (lower === "upgrade" && upgradeValue === undefined) upgradeValue = value;
    if (!forwarded(lower, listed, credentials)) continue;
    if (lower !== "cookie") out.push(lower, value);
    else pushCookie(out, value, credentials);
  }
  if (input.upgrade && upgradeValue !== undefined) out.push("connection", "Upgrade", "upgrade", upgradeValue);
  pushPairs(out, framingHeaders(input.framing), true);
  out.push("x-forwarded-for", input.clientIp);
  pushPairs(out, cachedIdentityHeaders(input.principal, input.sessionId), false);
  return out;
}

/** A `Cookie` header as the application gets it: without the token cookie unless credentials are forwarded. */
function pushCookie(out: string[], value: string, credentials: CredentialForwarding): void {
  const kept = credentials.forward || credentials.cookie === "" ? value : withoutCookie(value, credentials.cookie);
  if (kept !== "") out.push("cookie", kept); // a header that held only the token cookie is dropped
}

function pushPairs(out: string[], flat: readonly string[], lowerNames: boolean): void {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] ?? "";
    out.push(lowerNames ? name.toLowerCase() : name, flat[i + 1] ?? "");
  }
}

/** Whether a client header (lower-case name) reaches the application. */
function forwarded(lower: string, listed: ReadonlySet<string>, credentials: CredentialForwarding): boolean {
  const trimmed = lower.trim();
  if (isCanonicalIdentityName(trimmed.includes("_") ? trimmed.replaceAll("_", "-") : trimmed)) return false;
  if (ALWAYS_HOP_BY_HOP.has(lower) || listed.has(lower) || lower === "content-length") return false;
  const n = lower.includes("_") ? lower.replaceAll("_", "-") : lower;
  return !OURS.has(n) && !n.startsWith("x-vigil-") && !isWithheldCredential(lower, n, credentials);
}

/**
 * `Authorization` and the token header, unless credentials are forwarded; the token header in any other spelling
 * (`_` for `-`) always: only its exact name was checked for ambiguity, and an application that folds `_` into `-`
 * would read another copy as the token.
 */
function isWithheldCredential(lower: string, folded: string, credentials: CredentialForwarding): boolean {
  if (credentials.header !== "" && folded === credentials.header) return !credentials.forward || lower !== credentials.header;
  return lower === "authorization" && !credentials.forward;
}

/** A `Cookie` header value without the cookies named `name` ("" if nothing else is left). */
export function withoutCookie(header: string, name: string): string {
  if (!header.includes(name)) return header;
  let kept = "";
  for (const part of header.split(";")) {
    const pair = part.trim();
    const eq = pair.indexOf("=");
    if (pair === "" || (eq > 0 ? pair.slice(0, eq).trim() : pair) === name) continue;
    kept = kept === "" ? pair : `${kept}; ${pair}`;
  }
  return kept;
}

function hasConnectionHeader(raw: readonly string[]): boolean {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (name.length === 10 && name.toLowerCase() === "connection") return true;
  }
  return false;
}

/**
 * `identityHeaders` as flat lower-case `[name, value, …]`, computed once per principal object and
 * session (a warm token's principal is the same cached object on every request).
 */
const identityCache = new WeakMap<Principal, { sessionId: string; flat: readonly string[] }>();

function cachedIdentityHeaders(principal: Principal, sessionId: string): readonly string[] {
  const hit = identityCache.get(principal);
  if (hit?.sessionId === sessionId) return hit.flat;
  const flat: string[] = [];
  for (const [name, value] of Object.entries(identityHeaders(principal, sessionId))) flat.push(name.toLowerCase(), value);
  identityCache.set(principal, { sessionId, flat });
  return flat;
}

function add(out: Record<string, string | string[]>, name: string, value: string): void {
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [existing, value];
}
