/**
 * Facts about an HTTP request (or WebSocket handshake) as the authorizer sees them.
 *
 * Contract: `httpFacts(req, clientIp)` returns the facts and the request target to forward, whose
 * path is the normalised path the policy was evaluated on (the application sees exactly what was
 * authorized), with the query string kept verbatim. Throws SidecarError BAD_REQUEST for a target
 * `normaliseTarget` refuses (absolute-form and `*` included: this is a reverse proxy) and for
 * more than one Host header; CREDENTIALS_AMBIGUOUS for more than one Authorization header (Node's `headers` would
 * keep only the first, while the application might read another).
 */
import type { IncomingMessage } from "node:http";
import type { RequestFacts } from "../auth/types.ts";
import { ambiguousCredentials } from "../auth/credentials.ts";
import { SidecarError } from "../errors.ts";
import { hostOf } from "./context.ts";
import { normaliseTarget } from "./path.ts";

export interface HttpTarget {
  facts: RequestFacts;
  /** Normalised path + original query: what the upstream receives. */
  url: string;
}

export function httpFacts(req: IncomingMessage, clientIp: string): HttpTarget {
  // One pass over the raw names, lower-casing only those of a matching length.
  const raw = req.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
    else if (name.length === 13 && name.toLowerCase() === "authorization") authorizations++;
  }
  if (hosts > 1) throw new SidecarError("BAD_REQUEST", "The request has more than one Host header.");
  if (authorizations > 1) throw ambiguousCredentials();
  const { path, search } = normaliseTarget(req.url ?? "");
  return {
    facts: { method: (req.method ?? "GET").toUpperCase(), path, host: hostOf(req.headers.host), clientIp },
    url: path + search,
  };
}
