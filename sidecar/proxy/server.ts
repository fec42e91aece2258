/**
 * The sidecar's proxy server: HTTP (one `http.request` per request over a keep-alive agent), WebSocket upgrades and
 * CONNECT tunnels in front of the application on loopback.
 *
 * Contract: `createSidecarServer(deps)` builds (does not start) the server.
 *   - Strict HTTP parsing (`insecureHTTPParser: false`): ambiguous framing (CL+TE, duplicate or
 *     differing Content-Length, obfuscated Transfer-Encoding) → 400 JSON and the connection is
 *     closed; request heads over `maxHeaderBytes` → 431 HEADERS_TOO_LARGE; a head not complete within
 *     `timeouts.headersMs` or a request within `timeouts.requestMs` → 408 REQUEST_TIMEOUT and closed.
 *   - Every request, upgrade and tunnel is admitted (authenticate + authorize) before anything
 *     reaches the application, one at a time per connection and never after a closing refusal
 *     (connection-turn.ts); see http-flow.ts, websocket.ts, tunnel.ts. Two credential headers are 400
 *     CREDENTIALS_AMBIGUOUS; the application gets no credentials unless `deps.credentials.forward`.
 *   - Requests are forwarded the way http-proxy's `stream` pass did with `xfwd: false` and no
 *     redirect following (http-flow.ts), without its `deleteLength` pass, which would frame a
 *     chunked DELETE/OPTIONS body as `Content-Length: 0` (request smuggling towards the
 *     application); framing is set by forward-headers.ts instead.
 *   - `close()` stops listening and RSTs every tracked flow and idle socket.
 * No client input or upstream failure throws out of a handler.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { http } from "../../lib/node-http.ts";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { SidecarError, type SidecarErrorCode } from "../errors.ts";
import type { ProxyContext, SidecarServerDeps } from "./context.ts";
import { NO_CREDENTIAL_FORWARDING } from "./forward-headers.ts";
import { createHttpHandler } from "./http-flow.ts";
import { refuseSocket, refusalOf } from "./refusal.ts";
import { createConnectHandler } from "./tunnel.ts";
import { createUpgradeHandler } from "./websocket.ts";

export type { AdmissionGate, Authenticated, AuthContext, SidecarServerDeps, SidecarTimeouts } from "./context.ts";
export type { CredentialForwarding } from "./forward-headers.ts";

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

export interface SidecarServer {
  server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createSidecarServer(deps: SidecarServerDeps): SidecarServer {
  const log = deps.logger.child({ component: "proxy" });
  const agent = new http.Agent({ keepAlive: true, scheduling: "lifo", timeout: deps.timeouts.keepAliveMs });
  const credentials =
    deps.credentials === undefined ? NO_CREDENTIAL_FORWARDING : Object.freeze({ ...deps.credentials, header: deps.credentials.header.toLowerCase() });
  const ctx: ProxyContext = { deps, agent, log, credentials };

  const server = http.createServer({
    insecureHTTPParser: false,
    requireHostHeader: true,
    maxHeaderSize: deps.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    headersTimeout: deps.timeouts.headersMs,
    requestTimeout: deps.timeouts.requestMs,
    keepAliveTimeout: deps.timeouts.keepAliveMs,
    connectionsCheckingInterval: deps.timeouts.checkIntervalMs ?? Math.min(1_000, deps.timeouts.headersMs),
  });
  const onHttp = createHttpHandler(ctx);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    onHttp(req, res, false);
  });
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    onHttp(req, res, true);
  });
  server.on("upgrade", createUpgradeHandler(ctx));
  server.on("connect", createConnectHandler(ctx));
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    onClientError(ctx, err, socket as Socket);
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        deps.connections.closeAll();
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** Parser failures with a code of their own; anything else the parser refuses is BAD_REQUEST. */
const PARSER_REFUSALS: Readonly<Record<string, [SidecarErrorCode, string]>> = {
  HPE_HEADER_OVERFLOW: ["HEADERS_TOO_LARGE", "The request headers are too large."],
  ERR_HTTP_REQUEST_TIMEOUT: ["REQUEST_TIMEOUT", "The request was not received in time."],
};

/** The HTTP parser refused the bytes on this socket (or timed out): answer once, then close. */
function onClientError(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Socket): void {
  const parserCode = err.code ?? "UNKNOWN";
  const inProgress = (socket as unknown as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (parserCode === "ECONNRESET" || parserCode === "EPIPE" || !socket.writable || inProgress?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [code, message] = PARSER_REFUSALS[parserCode] ?? ["BAD_REQUEST", "The request is malformed."];
  const refusal = new SidecarError(code, message, { cause: err });
  ctx.log.info({ event: "refused", kind: "http", code, status: refusal.status, parserCode }, message);
  refuseSocket(socket, refusalOf(refusal));
}
