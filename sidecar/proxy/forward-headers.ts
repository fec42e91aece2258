/**
 * The request headers the application receives (pure).
 *
 * Contract: `upstreamHeaders(input)` starts from the client's raw headers and, in this order,
 *   1. drops client-supplied identity headers in every spelling (`sanitizeHeaders`), plus any
 *      `X-Forwarded-For` / `Forwarded` (case and `_`/`-` variants): the client IP is ours to state;
 *   2. drops hop-by-hop fields (RFC 9110 §7.6.1, see hop-by-hop.ts; Upgrade kept for handshakes);
 *   3. sets the body framing explicitly (chunked stays chunked, Content-Length kept, else none);
 *   4. sets `X-Forwarded-For: <trusted client IP>` and the verified identity headers last, so
 *      nothing the client sent (not even `Connection: <our header>`) can remove or override them.
 * The result is a header object with lower-case names (duplicates as arrays) for `req.headers`,
 * which is the header object of the upstream request.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Principal } from "../auth/types.ts";
import { ALWAYS_HOP_BY_HOP, connectionTokens, framingHeaders } from "./hop-by-hop.ts";
import { identityHeaders, isCanonicalIdentityName } from "./identity-headers.ts";

export interface ForwardInput {
  rawHeaders: readonly string[];
  /** Node's parsed view, for framing (`content-length`, `transfer-encoding`). */
  framing: { "content-length"?: string | undefined; "transfer-encoding"?: string | undefined };
  principal: Principal;
  sessionId: string;
  clientIp: string;
  upgrade: boolean;
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
  const raw = input.rawHeaders;
  const listed = hasConnectionHeader(raw) ? connectionTokens(raw) : NONE;
  const out: Record<string, string | string[]> = {};
  let upgradeValue: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] ?? "").toLowerCase();
    const value = raw[i + 1] ?? "";
    // `upgrade` is not an identity name, so noting it before the identity check changes nothing.
    if (lower === "upgrade" && upgradeValue === undefined) upgradeValue = value;
    if (forwarded(lower, listed)) add(out, lower, value);
  }
  if (input.upgrade && upgradeValue !== undefined) {
    add(out, "connection", "Upgrade");
    add(out, "upgrade", upgradeValue);
  }
  const framing = framingHeaders(input.framing);
  for (let i = 0; i + 1 < framing.length; i += 2) out[(framing[i] ?? "").toLowerCase()] = framing[i + 1] ?? "";
  out["x-forwarded-for"] = input.clientIp;
  setAll(out, cachedIdentityHeaders(input.principal, input.sessionId));
  return out;
}

/** Whether a client header (lower-case name) reaches the application. */
function forwarded(lower: string, listed: ReadonlySet<string>): boolean {
  const trimmed = lower.trim();
  if (isCanonicalIdentityName(trimmed.includes("_") ? trimmed.replaceAll("_", "-") : trimmed)) return false;
  if (ALWAYS_HOP_BY_HOP.has(lower) || listed.has(lower) || lower === "content-length") return false;
  const n = lower.includes("_") ? lower.replaceAll("_", "-") : lower;
  return !OURS.has(n) && !n.startsWith("x-vigil-");
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

/** Sets flat lower-case `[name, value, …]` pairs, replacing what was there. */
function setAll(out: Record<string, string | string[]>, flat: readonly string[]): void {
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] ?? ""] = flat[i + 1] ?? "";
}

function add(out: Record<string, string | string[]>, name: string, value: string): void {
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [existing, value];
}
