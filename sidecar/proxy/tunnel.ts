/**
 * HTTP CONNECT tunnels to TCP ports of this pod (SSH- or database-style access).
 *
 * Contract: `CONNECT host:port` is accepted only for a loopback host (`localhost`, `127.0.0.1`,
 * `[::1]`), a port in 1..65535 that is neither the application's HTTP port (which would bypass
 * header sanitising) nor a configured forbidden port; anything else is 400 and no socket is
 * opened. The token comes from `Proxy-Authorization` (the injected authenticate reads it for
 * kind "tunnel"; two such headers are 400 CREDENTIALS_AMBIGUOUS); authentication failures are 407 with `Proxy-Authenticate: Bearer`, policy
 * refusals 403, with facts `{method: CONNECT, path: "", host, port}`. An admitted tunnel connects
 * to the upstream host (loopback) on that port, answers `200 Connection Established`, pipes both
 * ways and registers both sockets in the connection table. Connect failure → 502, connect timeout
 * → 504. Never throws.
 */
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { ambiguousCredentials, repeatedCredentialHeader } from "../auth/credentials.ts";
import type { RequestFacts } from "../auth/types.ts";
import { SidecarError } from "../errors.ts";
import { onRawTurn } from "./connection-turn.ts";
import { admit, bindingOf, clientIpOf, logDropped, logRefusal, type ProxyContext } from "./context.ts";
import { refuseSocket, refusalOf } from "./refusal.ts";

export type ConnectHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

const LOOPBACK = new Map([
  ["localhost", "localhost"],
  ["127.0.0.1", "127.0.0.1"],
  ["[::1]", "::1"],
]);

export interface TunnelTarget {
  host: string;
  port: number;
}

/** Parse and vet a CONNECT authority (`host:port`); throws SidecarError BAD_REQUEST. */
export function tunnelTarget(authority: string, forbiddenPorts: ReadonlySet<number>): TunnelTarget {
  const colon = authority.lastIndexOf(":");
  const hostPart = authority.slice(0, colon).toLowerCase();
  const portPart = authority.slice(colon + 1);
  if (colon <= 0 || !/^[0-9]{1,5}$/.test(portPart)) {
    throw new SidecarError("BAD_REQUEST", "CONNECT needs a host:port target.");
  }
  const port = Number(portPart);
  const host = LOOPBACK.get(hostPart);
  if (host === undefined) throw new SidecarError("BAD_REQUEST", "Tunnels reach only ports of this pod (localhost).");
  if (port < 1 || port > 65535) throw new SidecarError("BAD_REQUEST", "The tunnel port is out of range.");
  if (forbiddenPorts.has(port)) throw new SidecarError("BAD_REQUEST", "This port cannot be reached through a tunnel.");
  return { host, port };
}

export function createConnectHandler(ctx: ProxyContext): ConnectHandler {
  const forbidden = new Set([ctx.deps.upstream.port, ...(ctx.deps.forbiddenTunnelPorts ?? [])]);
  return (req, socket, head) => {
    socket.on("error", () => undefined);
    const run = (): void => {
      handleConnect(ctx, forbidden, req, socket, head).catch((err: unknown) => {
        logRefusal(ctx, "tunnel", err);
        refuseSocket(socket, refusalOf(err), { proxy: true });
      });
    };
    if (onRawTurn(socket, run)) logDropped(ctx, "tunnel");
  };
}

async function handleConnect(ctx: ProxyContext, forbidden: ReadonlySet<number>, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  let target: TunnelTarget;
  let admitted;
  try {
    target = tunnelTarget(req.url ?? "", forbidden);
    if (repeatedCredentialHeader(req.rawHeaders, true)) throw ambiguousCredentials();
    const facts: RequestFacts = { method: "CONNECT", path: "", host: target.host, port: target.port, clientIp: clientIpOf(ctx, req) };
    admitted = await admit(ctx, req, "tunnel", facts);
  } catch (err) {
    logRefusal(ctx, "tunnel", err);
    refuseSocket(socket, refusalOf(err), { proxy: true });
    return;
  }
  if (socket.destroyed) return;

  const upstream = connect({ host: ctx.deps.upstream.host, port: target.port });
  let connected = false;
  const abort = (): void => {
    if (!connected) upstream.destroy();
  };
  socket.once("close", abort);
  upstream.setTimeout(ctx.deps.timeouts.upstreamMs, () => {
    if (connected) return;
    fail("UPSTREAM_TIMEOUT", "The tunnel target did not accept the connection in time.", "ETIMEDOUT");
  });
  const fail = (code: "UPSTREAM_TIMEOUT" | "UPSTREAM_UNAVAILABLE", message: string, errCode: string): void => {
    upstream.destroy();
    ctx.log.warn({ event: "upstream.error", kind: "tunnel", code, errCode, port: target.port }, "tunnel upstream failed");
    refuseSocket(socket, refusalOf(new SidecarError(code, message)), { proxy: true });
  };
  upstream.once("error", (err: NodeJS.ErrnoException) => {
    if (!connected) fail("UPSTREAM_UNAVAILABLE", "The tunnel target is not reachable.", err.code ?? "UNKNOWN");
  });
  upstream.once("connect", () => {
    connected = true;
    socket.off("close", abort);
    upstream.setTimeout(0);
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    ctx.deps.connections.openFlow("tunnel", socket, upstream, bindingOf(admitted, `${target.host}:${target.port}`));
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
}
