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
 * which is what http-proxy copies to the upstream request.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Principal } from "../auth/types.ts";
import { framingHeaders, stripHopByHop } from "./hop-by-hop.ts";
import { identityHeaders, sanitizeHeaders } from "./identity-headers.ts";

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

function normalisedName(name: string): string {
  return name.toLowerCase().replaceAll("_", "-");
}

export function upstreamHeaders(input: ForwardInput): IncomingHttpHeaders {
  const raw = stripHopByHop(sanitizeHeaders([...input.rawHeaders]), { upgrade: input.upgrade });
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const n = normalisedName(name);
    if (OURS.has(n) || n.startsWith("x-vigil-")) continue;
    add(out, name.toLowerCase(), raw[i + 1] ?? "");
  }
  const framing = framingHeaders(input.framing);
  for (let i = 0; i + 1 < framing.length; i += 2) out[(framing[i] ?? "").toLowerCase()] = framing[i + 1] ?? "";
  out["x-forwarded-for"] = input.clientIp;
  for (const [name, value] of Object.entries(identityHeaders(input.principal, input.sessionId))) {
    out[name.toLowerCase()] = value;
  }
  return out;
}

function add(out: Record<string, string | string[]>, name: string, value: string): void {
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [existing, value];
}
