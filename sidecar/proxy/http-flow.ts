/**
 * Plain HTTP requests: the ordered request pipeline.
 *
 *   1. facts      method, normalised path, host, trusted client IP       (400 BAD_REQUEST)
 *   2. admit      authenticate + authorize                               (401 / 403 JSON)
 *   3. track      bind the keep-alive socket (and, once known, the pooled upstream socket)
 *                 to this request's session in the connection table
 *   4. rewrite    req.headers / req.url rewritten BEFORE proxying (http-proxy skips its
 *                 `proxyReq` event when `Expect` is present, so nothing is done there)
 *   5. continue   `100 Continue` only once admitted (Expect: 100-continue)
 *   6. forward    http-proxy with the shared keep-alive agent; the response is written here
 *                 (`selfHandleResponse`) so hop-by-hop fields are stripped and an upstream failure
 *                 mid-body destroys the client socket instead of leaving it hanging
 *
 * Contract: never throws and never rejects; every failure is answered (JSON refusal, 502
 * UPSTREAM_UNAVAILABLE, 504 UPSTREAM_TIMEOUT) or, once the response has started, ends in a
 * destroyed socket. A client that goes away aborts the upstream request (no leaked sockets).
 */
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream";
import type httpProxy from "http-proxy";
import { SidecarError } from "../errors.ts";
import type { RequestHandle } from "../sessions/connections.ts";
import { admit, bindingOf, clientIpOf, logRefusal, sessionLogId, type ProxyContext } from "./context.ts";
import { upstreamHeaders } from "./forward-headers.ts";
import { stripResponseHopByHop } from "./hop-by-hop.ts";
import { refuseResponse, refusalOf } from "./refusal.ts";
import { httpFacts } from "./request-facts.ts";

/** Node's (undocumented in @types) Agent entry point, called synchronously by `http.request`. */
interface PoolingAgent {
  addRequest(req: ClientRequest, options: object): void;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => void;

export function createHttpHandler(ctx: ProxyContext, proxy: httpProxy): HttpHandler {
  return (req, res, expectContinue) => {
    handle(ctx, proxy, req, res, expectContinue).catch((err: unknown) => {
      logRefusal(ctx, "http", err);
      refuseResponse(req, res, refusalOf(err));
    });
  };
}

async function handle(ctx: ProxyContext, proxy: httpProxy, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
  const clientIp = clientIpOf(ctx, req);
  let target;
  let admitted;
  try {
    target = httpFacts(req, clientIp);
    admitted = await admit(ctx, req, "http", target.facts);
  } catch (err) {
    logRefusal(ctx, "http", err);
    refuseResponse(req, res, refusalOf(err));
    return;
  }
  if (res.destroyed || req.socket.destroyed) return;

  const flight = ctx.deps.connections.beginRequest(req.socket, bindingOf(admitted, `${target.facts.method} ${target.facts.path}`));
  res.once("close", () => { flight.end(); });

  req.headers = upstreamHeaders({
    rawHeaders: req.rawHeaders,
    framing: req.headers,
    principal: admitted.principal,
    sessionId: admitted.sessionId,
    clientIp,
    upgrade: false,
  });
  req.url = target.url;
  if (expectContinue) res.writeContinue();
  forward(ctx, proxy, req, res, flight, admitted.sessionId);
}

function forward(ctx: ProxyContext, proxy: httpProxy, req: IncomingMessage, res: ServerResponse, flight: RequestHandle, sessionId: string): void {
  let timedOut = false;
  let failed = false;
  const fail = (err: unknown): void => {
    flight.end();
    if (failed) return;
    failed = true;
    const code = timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE";
    if (res.destroyed || req.socket.destroyed) return; // the client left first: nothing to answer
    ctx.log.warn({ event: "upstream.error", code, errCode: errCodeOf(err), session: sessionLogId(sessionId) }, "upstream request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = timedOut ? "The application did not answer in time." : "The application is not reachable.";
    refuseResponse(req, res, refusalOf(new SidecarError(code, message)));
  };

  // A per-request view of the shared keep-alive agent that hands us http-proxy's ClientRequest,
  // whether or not http-proxy emits `proxyReq` (it does not when `Expect` is present).
  const shared = ctx.agent as Agent & PoolingAgent;
  const agent = Object.create(shared) as Agent & PoolingAgent;
  agent.addRequest = (proxyReq, options) => {
    onProxyReq(proxyReq);
    shared.addRequest(proxyReq, options);
  };

  const onProxyReq = (proxyReq: ClientRequest): void => {
    proxyReq.once("socket", (socket) => { flight.attachUpstream(socket); });
    proxyReq.once("timeout", () => {
      timedOut = true;
    });
    res.once("close", () => {
      if (!res.writableFinished) proxyReq.destroy();
    });
    proxyReq.once("response", (proxyRes: IncomingMessage) => {
      respond(res, proxyRes, (err) => {
        flight.end();
        if (err !== undefined) fail(err);
      });
    });
  };

  try {
    proxy.web(req, res, { agent }, (err) => { fail(err); });
  } catch (err) {
    fail(err);
  }
}

/** Copy the upstream response (status, end-to-end headers, body) to the client. */
function respond(res: ServerResponse, proxyRes: IncomingMessage, done: (err?: unknown) => void): void {
  try {
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, stripResponseHopByHop(proxyRes.rawHeaders));
  } catch (err) {
    proxyRes.destroy();
    done(err);
    return;
  }
  pipeline(proxyRes, res, (err) => {
    done(err ?? undefined);
  });
}

function errCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "UNKNOWN";
}
