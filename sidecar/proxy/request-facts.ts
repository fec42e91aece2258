/**
 * Facts about an HTTP request (or WebSocket handshake) as the authorizer sees them.
 *
 * Contract: `httpFacts(req, clientIp)` returns the facts and the request target to forward, whose
 * path is the normalised path the policy was evaluated on (the application sees exactly what was
 * authorized), with the query string kept verbatim. Throws SidecarError BAD_REQUEST for a target
 * `normaliseTarget` refuses (absolute-form and `*` included: this is a reverse proxy) and for
 * more than one Host header.
 */
import type { IncomingMessage } from "node:http";
import type { RequestFacts } from "../auth/types.ts";
import { SidecarError } from "../errors.ts";
import { hostOf } from "./context.ts";
import { normaliseTarget } from "./path.ts";

export interface HttpTarget {
  facts: RequestFacts;
  /** Normalised path + original query: what the upstream receives. */
  url: string;
}

export function httpFacts(req: IncomingMessage, clientIp: string): HttpTarget {
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === "host") hosts++;
  if (hosts > 1) throw new SidecarError("BAD_REQUEST", "The request has more than one Host header.");
  const { path, search } = normaliseTarget(req.url ?? "");
  return {
    facts: { method: (req.method ?? "GET").toUpperCase(), path, host: hostOf(req.headers.host), clientIp },
    url: path + search,
  };
}
