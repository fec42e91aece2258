/**
 * Writing refusals: JSON bodies from `errorBody`, on a ServerResponse or on a raw socket (upgrade,
 * CONNECT, parser errors).
 *
 * Contract: 401s carry `WWW-Authenticate: Bearer` (with `error="invalid_token"` when a token was
 * presented); CONNECT authentication failures are 407 with `Proxy-Authenticate: Bearer` (the
 * credential belongs in Proxy-Authorization). Raw-socket refusals always close the connection.
 * Refusing a request whose body was not read, or a malformed or ambiguous one (400), also closes the
 * connection, and nothing read after it reaches the application (connection-turn.ts). Never throws.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { http } from "../../lib/node-http.ts";
import type { Socket } from "node:net";
import { errorBody, isSidecarError, type ErrorBody } from "../errors.ts";

export interface Refusal {
  status: number;
  body: ErrorBody;
  /** Sent as Retry-After (whole seconds). */
  retryAfterSeconds?: number | undefined;
}

/** A refusal for any thrown value (unknown errors become 500 INTERNAL with a fixed sentence). */
export function refusalOf(err: unknown): Refusal {
  const status = isSidecarError(err) ? err.status : 500;
  return { status, body: errorBody(err), retryAfterSeconds: isSidecarError(err) ? err.retryAfterSeconds : undefined };
}

function refusalHeaders(refusal: Refusal, proxy: boolean): [string, string][] {
  const retry: [string, string][] = refusal.retryAfterSeconds === undefined ? [] : [["Retry-After", String(Math.max(1, Math.ceil(refusal.retryAfterSeconds)))]];
  if (refusal.status !== 401 && refusal.status !== 407) return retry;
  const value = refusal.body.code === "TOKEN_MISSING" ? "Bearer" : 'Bearer error="invalid_token"';
  return [[proxy ? "Proxy-Authenticate" : "WWW-Authenticate", value], ...retry];
}

export function refuseResponse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const payload = JSON.stringify(refusal.body);
  const headers: [string, string][] = [
    ["Content-Type", "application/json"],
    ["Content-Length", String(Buffer.byteLength(payload))],
    ["Cache-Control", "no-store"],
    ...refusalHeaders(refusal, false),
  ];
  if (closesConnection(req, refusal)) headers.push(["Connection", "close"]);
  try {
    res.writeHead(refusal.status, headers.flat());
    res.end(payload);
  } catch {
    res.destroy();
  }
}

/**
 * A refusal closes the connection when the refused request's body was not read (what follows it on the wire is not
 * known to be a request) and when the request was malformed or ambiguous (400): a client that sent it may frame
 * what follows differently from us. Nothing read after a closing refusal is handled (connection-turn.ts).
 */
function closesConnection(req: IncomingMessage, refusal: Refusal): boolean {
  return !req.complete || refusal.status === 400;
}

/** Refuse on a socket that left the HTTP parser (upgrade, CONNECT) or on a parser error. */
export function refuseSocket(socket: Socket, refusal: Refusal, opts: { proxy?: boolean } = {}): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = opts.proxy === true && refusal.status === 401 ? 407 : refusal.status;
  const payload = JSON.stringify(refusal.body);
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(payload)}`,
    "Cache-Control: no-store",
    "Connection: close",
    ...refusalHeaders({ ...refusal, status }, opts.proxy === true).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.on("error", () => undefined);
  socket.end(`${lines.join("\r\n")}\r\n\r\n${payload}`);
  socket.setTimeout(5_000, () => socket.destroy());
}
