/**
 * WebSocket upgrades: authorized at `upgrade`, then proxied by hand (not http-proxy's `ws` pass,
 * which neither exposes which upstream socket belongs to which client nor lets us refuse cleanly).
 *
 * Contract: only `GET` with `Upgrade: websocket` is accepted (anything else, e.g. `h2c`, is 400).
 * Refusals are JSON on the raw socket (401 with WWW-Authenticate, 403, 400) and no upstream socket
 * is opened. An admitted handshake goes to the application with sanitised headers and verified
 * identity; the application's 101 is relayed, then client and upstream sockets are piped and
 * registered together in the connection table (so a termination RSTs both). A non-101 answer is
 * relayed and the connection closed. Upstream failure before 101 → 502/504 JSON. Never throws.
 */
import type { IncomingMessage } from "node:http";
import { http } from "../../lib/node-http.ts";
import type { Socket } from "node:net";
import { SidecarError } from "../errors.ts";
import { onRawTurn } from "./connection-turn.ts";
import { admit, bindingOf, clientIpOf, logDropped, logRefusal, type ProxyContext } from "./context.ts";
import { upstreamHeaders } from "./forward-headers.ts";
import { stripResponseHopByHop } from "./hop-by-hop.ts";
import { refuseSocket, refusalOf } from "./refusal.ts";
import { httpFacts } from "./request-facts.ts";

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

export function createUpgradeHandler(ctx: ProxyContext): UpgradeHandler {
  return (req, socket, head) => {
    socket.on("error", () => undefined);
    const run = (): void => {
      handleUpgrade(ctx, req, socket, head).catch((err: unknown) => {
        logRefusal(ctx, "websocket", err);
        refuseSocket(socket, refusalOf(err));
      });
    };
    if (onRawTurn(socket, run)) logDropped(ctx, "websocket");
  };
}

function isWebSocketHandshake(req: IncomingMessage): boolean {
  return req.method === "GET" && (req.headers.upgrade ?? "").trim().toLowerCase() === "websocket";
}

async function handleUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  const clientIp = clientIpOf(ctx, req);
  let target;
  let admitted;
  try {
    if (!isWebSocketHandshake(req)) throw new SidecarError("BAD_REQUEST", "Only WebSocket upgrades (GET with Upgrade: websocket) are accepted.");
    target = httpFacts(req, clientIp);
    admitted = await admit(ctx, req, "websocket", target.facts);
  } catch (err) {
    logRefusal(ctx, "websocket", err);
    refuseSocket(socket, refusalOf(err));
    return;
  }
  if (socket.destroyed) return;

  const headers = upstreamHeaders({
    rawHeaders: req.rawHeaders,
    framing: {},
    principal: admitted.principal,
    sessionId: admitted.sessionId,
    clientIp,
    upgrade: true,
    credentials: ctx.credentials,
  });
  const { host, port } = ctx.deps.upstream;
  const upReq = http.request({ host, port, method: "GET", path: target.url, headers, agent: false });
  let timedOut = false;
  let settled = false;
  upReq.setTimeout(ctx.deps.timeouts.upstreamMs, () => {
    timedOut = true;
    upReq.destroy();
  });
  const abortUpstream = (): void => {
    if (!settled) upReq.destroy();
  };
  socket.once("close", abortUpstream);

  upReq.once("error", (err: NodeJS.ErrnoException) => {
    if (settled) return;
    settled = true;
    const code = timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE";
    ctx.log.warn({ event: "upstream.error", kind: "websocket", code, errCode: err.code ?? "UNKNOWN" }, "websocket upstream failed");
    refuseSocket(socket, refusalOf(new SidecarError(code, timedOut ? "The application did not answer in time." : "The application is not reachable.")));
  });

  upReq.once("response", (upRes) => {
    settled = true;
    socket.off("close", abortUpstream);
    relayRefusedUpgrade(socket, upRes);
  });

  upReq.once("upgrade", (upRes, upSocket: Socket, upHead: Buffer) => {
    settled = true;
    socket.off("close", abortUpstream);
    upReq.setTimeout(0);
    upSocket.setTimeout(0);
    upSocket.on("error", () => undefined);
    if (socket.destroyed) {
      upSocket.destroy();
      return;
    }
    socket.write(statusHead(101, upRes.statusMessage, upRes.rawHeaders));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    ctx.deps.connections.openFlow("websocket", socket, upSocket, bindingOf(admitted, `GET ${target.facts.path}`));
    socket.pipe(upSocket);
    upSocket.pipe(socket);
  });
  upReq.end();
}

function statusHead(status: number, message: string | undefined, raw: readonly string[]): string {
  let out = `HTTP/1.1 ${status} ${message ?? ""}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) out += `${raw[i] ?? ""}: ${raw[i + 1] ?? ""}\r\n`;
  return `${out}\r\n`;
}

/** The application declined the upgrade: relay its answer and close. */
function relayRefusedUpgrade(socket: Socket, upRes: IncomingMessage): void {
  upRes.on("error", () => socket.destroy());
  if (socket.destroyed) {
    upRes.destroy();
    return;
  }
  // Content-Length is kept when present; otherwise the body is delimited by the close.
  const raw = stripResponseHopByHop(upRes.rawHeaders);
  socket.write(statusHead(upRes.statusCode ?? 502, upRes.statusMessage, [...raw, "Connection", "close"]));
  upRes.pipe(socket);
}
