/**
 * Plain HTTP requests: the ordered request pipeline.
 *
 *   0. turn       a request pipelined behind another waits until that one's response is done; after a
 *                 response that closed the connection it is dropped unseen (connection-turn.ts)
 *   1. facts      method, normalised path, host, trusted client IP       (400 BAD_REQUEST)
 *   2. admit      authenticate + authorize                               (401 / 403 JSON)
 *   3. track      bind the keep-alive socket (and, once known, the pooled upstream socket)
 *                 to this request's session in the connection table
 *   4. rewrite    the upstream header object and target are built once, before anything is sent
 *   5. continue   `100 Continue` only once admitted (Expect: 100-continue)
 *   6. forward    one `http.request` over the shared keep-alive agent (what http-proxy's `stream`
 *                 pass did, minus its per-request option copying, URL re-parsing and events) to
 *                 the normalised target; the response is written here so hop-by-hop fields are stripped
 *                 and an upstream failure mid-body destroys the client socket instead of leaving
 *                 it hanging
 *
 * Contract: never throws and never rejects; every failure is answered (JSON refusal, 502
 * UPSTREAM_UNAVAILABLE, 504 UPSTREAM_TIMEOUT) or, once the response has started, ends in a
 * destroyed socket. A client that goes away aborts the upstream request (no leaked sockets).
 *
 * Hot path (see docs/decisions/perf-0001-sidecar-request-path.md): per request there is one
 * state object, a fixed handful of listeners (`on`, not `once`: every event here fires at most
 * once per emitter, and `once` allocates a bound wrapper), no `stream.pipeline` (it allocates an
 * AbortController and a DOMException per response) nor `pipe` for the response (seven closures per call), no
 * per-request agent object, and the upstream headers as a flat list (docs/decisions/perf-0002).
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { http } from "../../lib/node-http.ts";
import type { Socket } from "node:net";
import { SidecarError } from "../errors.ts";
import type { RequestHandle } from "../sessions/connections.ts";
import { connectionClosing, onHttpTurn } from "./connection-turn.ts";
import { admit, bindingOf, clientIpOf, logDropped, logRefusal, sessionLogId, type ProxyContext } from "./context.ts";
import { upstreamHeaderList } from "./forward-headers.ts";
import { stripResponseHopByHop } from "./hop-by-hop.ts";
import { refuseResponse, refusalOf } from "./refusal.ts";
import { httpFacts } from "./request-facts.ts";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => void;

export function createHttpHandler(ctx: ProxyContext): HttpHandler {
  const run = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void => {
    handle(ctx, req, res, expectContinue).catch((err: unknown) => {
      logRefusal(ctx, "http", err);
      refuseResponse(req, res, refusalOf(err));
    });
  };
  return (req, res, expectContinue) => {
    // In order, one at a time per connection, and nothing after a closing answer (connection-turn.ts).
    if (res.socket !== null && !connectionClosing(req.socket)) run(req, res, expectContinue);
    else if (
      onHttpTurn(req, res, () => {
        run(req, res, expectContinue);
      })
    )
      logDropped(ctx, "http");
  };
}

async function handle(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
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
  if (res.destroyed || connectionClosing(req.socket)) return; // the client left, or its connection was closed meanwhile

  const flight = ctx.deps.connections.beginRequest(req.socket, bindingOf(admitted, `${target.facts.method} ${target.facts.path}`));
  const framing = req.headers;
  const bodyless = framing["content-length"] === undefined && framing["transfer-encoding"] === undefined;
  const headers = upstreamHeaderList({
    rawHeaders: req.rawHeaders,
    framing,
    principal: admitted.principal,
    sessionId: admitted.sessionId,
    clientIp,
    upgrade: false,
    credentials: ctx.credentials,
  });
  // A header list gets no Host from Node: an HTTP/1.0 request may come without one, the upstream request is HTTP/1.1.
  if (framing.host === undefined) headers.push("host", `${ctx.deps.upstream.host}:${String(ctx.deps.upstream.port)}`);
  req.url = target.url;
  const forwarding = new Forwarding(ctx, req, res, flight, admitted.sessionId);
  res.on("close", forwarding.onClientClose);
  if (expectContinue) res.writeContinue();
  forwarding.start(headers, target.url, bodyless);
}

interface Abortable {
  abort(): void;
}

/** One proxied request: its state and its listeners (arrow properties, created once per request). */
class Forwarding {
  readonly #ctx: ProxyContext;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #flight: RequestHandle;
  readonly #sessionId: string;
  #proxyReq: ClientRequest | null = null;
  #proxyRes: IncomingMessage | null = null;
  #upstreamError: unknown = undefined;
  #timedOut = false;
  #failed = false;
  #drainWatched = false;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, flight: RequestHandle, sessionId: string) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    this.#flight = flight;
    this.#sessionId = sessionId;
  }

  start(headers: readonly string[], url: string, bodyless: boolean): void {
    const ctx = this.#ctx;
    const req = this.#req;
    let proxyReq: ClientRequest;
    try {
      proxyReq = http.request({
        host: ctx.deps.upstream.host,
        port: ctx.deps.upstream.port,
        method: req.method,
        path: url, // the normalised target: exactly the path that was authorized, and the query
        headers,
        agent: ctx.agent,
      });
    } catch (err) {
      this.fail(err);
      return;
    }
    this.#proxyReq = proxyReq;
    proxyReq.on("socket", this.onSocket);
    proxyReq.on("timeout", this.onTimeout);
    if (ctx.deps.timeouts.upstreamMs) proxyReq.setTimeout(ctx.deps.timeouts.upstreamMs);
    proxyReq.on("error", this.onProxyError);
    proxyReq.on("response", this.onResponse);
    req.on("aborted", this.onClientAborted);
    req.on("error", this.onProxyError);
    // Node's parser frames a request without Content-Length / Transfer-Encoding as having no body.
    if (bodyless) proxyReq.end();
    else req.pipe(proxyReq);
  }

  readonly onSocket = (socket: Socket): void => {
    this.#flight.attachUpstream(socket);
  };

  readonly onTimeout = (): void => {
    this.#timedOut = true;
    if (this.#ctx.deps.timeouts.upstreamMs) this.#abort();
  };

  readonly onClientAborted = (): void => {
    this.#abort();
  };

  /** Errors of the upstream request or of the client request (http-proxy's `proxyError`). */
  readonly onProxyError = (err: NodeJS.ErrnoException): void => {
    if (this.#req.socket.destroyed && err.code === "ECONNRESET") {
      this.#abort();
      return;
    }
    this.fail(err);
  };

  readonly onClientClose = (): void => {
    this.#flight.end();
    if (this.#proxyReq !== null && !this.#res.writableFinished) this.#proxyReq.destroy();
  };

  readonly onResponse = (proxyRes: IncomingMessage): void => {
    const res = this.#res;
    try {
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, stripResponseHopByHop(proxyRes.rawHeaders));
    } catch (err) {
      proxyRes.destroy();
      this.#flight.end();
      this.fail(err);
      return;
    }
    this.#proxyRes = proxyRes;
    proxyRes.on("error", this.onUpstreamBodyError);
    proxyRes.on("close", this.onUpstreamBodyClose);
    res.on("error", this.onClientWriteError);
    // What `proxyRes.pipe(res)` does here, with this object's listeners instead of pipe's seven closures per call.
    proxyRes.on("data", this.onUpstreamData);
    proxyRes.on("end", this.onUpstreamEnd);
  };

  readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.#res.write(chunk)) return;
    this.#proxyRes?.pause(); // the client reads slower than the application writes: wait for it
    if (!this.#drainWatched) {
      this.#drainWatched = true;
      this.#res.on("drain", this.onClientDrain);
    }
  };

  readonly onClientDrain = (): void => {
    this.#proxyRes?.resume();
  };

  readonly onUpstreamEnd = (): void => {
    this.#res.end();
  };

  readonly onUpstreamBodyError = (err: unknown): void => {
    this.#upstreamError ??= err;
  };

  /** The upstream body stream closed: a clean end, or a failure (error, or closed before its end). */
  readonly onUpstreamBodyClose = (): void => {
    const proxyRes = this.#proxyRes;
    if (proxyRes === null) return;
    if (this.#upstreamError === undefined && proxyRes.readableEnded) return;
    this.#flight.end();
    this.fail(this.#upstreamError ?? prematureClose());
  };

  readonly onClientWriteError = (err: unknown): void => {
    this.#flight.end();
    this.fail(err);
  };

  /** http-proxy's `proxyReq.abort()` (kept rather than `destroy()` so the request is marked aborted as before). */
  #abort(): void {
    (this.#proxyReq as unknown as Abortable | null)?.abort();
  }

  fail(err: unknown): void {
    this.#flight.end();
    if (this.#failed) return;
    this.#failed = true;
    const req = this.#req;
    const res = this.#res;
    const code = this.#timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE";
    if (res.destroyed || req.socket.destroyed) return; // the client left first: nothing to answer
    this.#ctx.log.warn({ event: "upstream.error", code, errCode: errCodeOf(err), session: sessionLogId(this.#sessionId) }, "upstream request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = this.#timedOut ? "The application did not answer in time." : "The application is not reachable.";
    refuseResponse(req, res, refusalOf(new SidecarError(code, message)));
  }
}

function prematureClose(): Error {
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

function errCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "UNKNOWN";
}
