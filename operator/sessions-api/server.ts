/**
 * The sessions API's HTTPS server (the thin shell around the pure core): TLS with the operator's serving
 * certificate, client certificates requested and verified against the front-proxy CA bundle (swapped without a
 * restart when the API server's ConfigMap changes, like the serving certificate), then per request:
 *
 *   /healthz /readyz /livez        → 200 (no authentication)
 *   everything else                → 401 unless the front proxy is verified and names a user (authn/)
 *   discovery and OpenAPI          → served to any authenticated caller (what the API server's system:discovery
 *                                    role grants everyone; the aggregator fetches them as itself)
 *   vigilsessions get/list/watch/delete → SubjectAccessReview (cached) → 403 or the handler
 *
 * Errors are `metav1.Status`; a handler that throws answers 500 and is logged — nothing a client sends can stop
 * the server. Logs never carry headers or session ids (hashed). `observe` receives every finished request (the
 * metrics and the benchmark use it).
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Logger } from "../../lib/log.ts";
import { describeError } from "../errors.ts";
import type { TlsMaterial } from "../webhook/server.ts";
import { authenticate, type UserInfo } from "./authn/authenticate.ts";
import type { FrontProxyConfig } from "./authn/front-proxy-config.ts";
import type { AccessReviewer } from "./authz/access-review.ts";
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, DISCOVERY_V2_CONTENT_TYPE } from "./core/discovery.ts";
import { negotiate } from "./core/negotiate.ts";
import { OPENAPI_HASH, openApiDocumentJson, openApiRoot } from "./core/openapi.ts";
import { parseRequest, type ApiRequest } from "./core/request.ts";
import { forbidden, internal, notAcceptable, unauthorized } from "./core/status.ts";
import { handleDelete, type DeleteTarget, type Terminate } from "./handlers/delete.ts";
import { handleGet, handleList, type ReadSource } from "./handlers/read.ts";
import { handleWatch, type WatchSource } from "./handlers/watch.ts";
import { peerCertificates } from "./http/peer.ts";
import { sendJson, sendStatus } from "./http/respond.ts";

export type SessionsSource = ReadSource & WatchSource & DeleteTarget;

export interface RequestRecord {
  /** get, list, watch, delete, discovery, openapi, health, unauthenticated or invalid. */
  verb: string;
  code: number;
  /** Time to the end of the response (watches: to the end of the stream). */
  seconds: number;
}

export interface SessionsServerOptions {
  source: SessionsSource;
  tls: TlsMaterial;
  host?: string;
  port?: number;
  /** The front-proxy settings in force (undefined until loaded: every request is then 401). */
  authConfig: () => FrontProxyConfig | undefined;
  reviewer: AccessReviewer;
  terminate: Terminate;
  log: Logger;
  registry?: Registry;
  observe?: (r: RequestRecord) => void;
  /** Watch bookmarks interval. Default 60 s. */
  bookmarkMs?: number;
  /** Events a watcher may fall behind before its stream is closed. Default 1000. */
  watchMaxQueue?: number;
  now?: () => number;
}

export interface SessionsServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** New serving certificate and/or front-proxy CA bundle for new connections. */
  setTls(tls: TlsMaterial): void;
  setClientCa(caPem: string | undefined): void;
  close(): Promise<void>;
}

const hashId = (id: string): string => createHash("sha256").update(id).digest("base64url").slice(0, 16);

function metricsOn(registry: Registry | undefined): ((r: RequestRecord) => void) | undefined {
  if (registry === undefined) return undefined;
  const requests =
    (registry.getSingleMetric("vigil_sessions_api_requests_total") as Counter<"verb" | "code"> | undefined) ??
    new Counter({
      name: "vigil_sessions_api_requests_total",
      help: "Requests to the sessions API, by verb and HTTP status.",
      labelNames: ["verb", "code"],
      registers: [registry],
    });
  const latency =
    (registry.getSingleMetric("vigil_sessions_api_request_duration_seconds") as Histogram<"verb"> | undefined) ??
    new Histogram({
      name: "vigil_sessions_api_request_duration_seconds",
      help: "Time to answer a sessions API request (watches excluded), by verb.",
      labelNames: ["verb"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
  return (r) => {
    requests.inc({ verb: r.verb, code: String(r.code) });
    if (r.verb !== "watch") latency.observe({ verb: r.verb }, r.seconds);
  };
}

/** The options with the clock resolved: what every request's handling reads. */
type Serving = SessionsServerOptions & { now: () => number };

type ResourceCall = Extract<ApiRequest, { kind: "resource" }>;

/** SubjectAccessReview of the call; answers 403 and resolves false when refused. */
async function authorize(reviewer: AccessReviewer, user: UserInfo, call: ResourceCall, res: ServerResponse): Promise<boolean> {
  const decision = await reviewer.check({ user, verb: call.verb, namespace: call.namespace, name: call.name });
  if (decision.allowed) return true;
  sendStatus(res, forbidden({ user: user.name, verb: call.verb, namespace: call.namespace, name: call.name, reason: decision.reason }));
  return false;
}

async function serveResource(o: Serving, req: IncomingMessage, res: ServerResponse, user: UserInfo, call: ResourceCall): Promise<void> {
  if (!(await authorize(o.reviewer, user, call, res))) return;
  const rep = negotiate(req.headers.accept);
  if (rep.kind === "none" || rep.kind === "discovery-v2") {
    sendStatus(res, notAcceptable(req.headers.accept ?? ""));
    return;
  }
  const { namespace, name, query } = call;
  switch (call.verb) {
    case "get":
      handleGet(o.source, res, { rep, namespace, name: name ?? "", query, now: o.now() });
      return;
    case "list":
      handleList(o.source, res, { rep, namespace, query, now: o.now() });
      return;
    case "watch":
      handleWatch(
        o.source,
        res,
        { rep, scope: { namespace, name, selector: query.selector }, query },
        { bookmarkMs: o.bookmarkMs ?? 60_000, maxQueue: o.watchMaxQueue ?? 1000, now: o.now },
      );
      return;
    case "delete": {
      const result = await handleDelete(o.source, o.terminate, req, res, { namespace, name: name ?? "", user: user.name, query, now: o.now() });
      o.log.info(
        { event: "sessions_api.delete", namespace, session: hashId(name ?? ""), outcome: result.outcome, sessionTermination: result.termination },
        "vigilsession delete",
      );
      return;
    }
  }
}

function serveDiscovery(req: IncomingMessage, res: ServerResponse, call: Extract<ApiRequest, { kind: "discovery" | "openapi" }>): void {
  if (call.kind === "openapi") {
    if (call.doc === "root") sendJson(res, 200, openApiRoot());
    else sendJson(res, 200, openApiDocumentJson(), "application/json", { etag: `"${OPENAPI_HASH}"` });
    return;
  }
  if (call.doc === "apis" && negotiate(req.headers.accept, true).kind === "discovery-v2") {
    sendJson(res, 200, aggregatedDiscovery(), DISCOVERY_V2_CONTENT_TYPE);
    return;
  }
  sendJson(res, 200, call.doc === "apis" ? apiGroupList() : call.doc === "group" ? apiGroup() : apiResourceList());
}

/** Answer one request; resolves the verb it is counted under. */
async function handle(o: Serving, req: IncomingMessage, res: ServerResponse): Promise<string> {
  const call = parseRequest(req.method ?? "GET", req.url ?? "/");
  if (call.kind === "health") {
    sendJson(res, 200, "ok\n", "text/plain; charset=utf-8");
    return "health";
  }
  const auth = authenticate(peerCertificates(req.socket as TLSSocket), req.headersDistinct, o.authConfig(), o.now());
  if (!auth.ok) {
    o.log.debug({ event: "sessions_api.unauthenticated", reason: auth.reason }, "request refused: not from a verified front proxy");
    sendStatus(res, unauthorized());
    return "unauthenticated";
  }
  if (call.kind === "discovery" || call.kind === "openapi") {
    serveDiscovery(req, res, call);
    return call.kind;
  }
  if (call.kind === "error") {
    sendStatus(res, call.status);
    return "invalid";
  }
  await serveResource(o, req, res, auth.user, call);
  return call.verb;
}

/** The server's request listener: handle, then report the finished request (metrics, `observe`); a throw is a 500. */
function requestListener(o: Serving): (req: IncomingMessage, res: ServerResponse) => void {
  const record = metricsOn(o.registry);
  return (req, res) => {
    const started = process.hrtime.bigint();
    handle(o, req, res).then(
      (verb) => {
        const done = (): void => {
          const r: RequestRecord = { verb, code: res.statusCode, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
          record?.(r);
          o.observe?.(r);
        };
        if (res.writableEnded) done();
        else res.once("close", done);
      },
      (err: unknown) => {
        o.log.error({ event: "sessions_api.error", err: describeError(err) }, "sessions API request failed");
        if (!res.headersSent) sendStatus(res, internal("the sessions API could not complete the request"));
        else res.destroy();
      },
    );
  };
}

export async function startSessionsServer(options: SessionsServerOptions): Promise<SessionsServer> {
  const o: Serving = { ...options, now: options.now ?? Date.now };
  let tls = o.tls;
  let clientCa: string | undefined = o.authConfig()?.caPem;

  const secureContext = (): { key: string; cert: string; ca?: string; minVersion: "TLSv1.2" } => ({
    key: tls.key,
    cert: tls.cert,
    minVersion: "TLSv1.2",
    ...(clientCa === undefined ? {} : { ca: clientCa }),
  });
  const server = createServer({ ...secureContext(), requestCert: true, rejectUnauthorized: false }, requestListener(o));
  server.requestTimeout = 0; // watches are long; slow clients are cut by headersTimeout and the socket timeout
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 60_000;
  server.on("tlsClientError", (err) => {
    o.log.debug({ err: err.message }, "sessions API TLS handshake failed");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    server,
    port: address.port,
    url: `https://${hostForUrl}:${address.port}`,
    setTls(next) {
      tls = next;
      server.setSecureContext(secureContext());
    },
    setClientCa(caPem) {
      clientCa = caPem;
      server.setSecureContext(secureContext());
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };
}
