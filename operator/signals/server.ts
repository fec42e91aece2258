/**
 * The signal receivers' HTTPS server (every operator replica; behind the `<release>-signals` Service):
 *
 *   POST /oidc/backchannel-logout   OpenID Connect Back-Channel Logout 1.0 (backchannel.ts)
 *   POST /ssf/push/<stream>         RFC 8935 push delivery of SETs for a configured SSF stream
 *   GET  /healthz
 *
 * Bodies are read up to MAX_BODY_BYTES (larger: refused without reading on); a request that takes longer than the
 * timeouts is dropped. Push needs the stream's bearer (compared in constant time) and
 * `Content-Type: application/secevent+jwt`; it answers 202, or 400 with RFC 8935's `{err, description}` (a wrong
 * bearer too: `authentication_failed`), or 503 `temporarily_unavailable` when a valid SET cannot be applied now (the
 * operator is not ready). Back-channel logout answers 200 / 400 `{error: "invalid_request", error_description}` / 503
 * `temporarily_unavailable`. Every request is counted by outcome (`vigil_operator_signal_requests_total{receiver,
 * result}`: `accepted` or the refusal's reason) and every refusal logged without the token. Nothing a client sends
 * can throw out of a handler.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../lib/log.ts";
import type { BackChannelReceiver } from "./backchannel.ts";
import type { SsfReceiver } from "./ssf/receiver.ts";
import type { Signal, SignalOutcome } from "./terminations.ts";
import { SignalError, type SignalErrorCode } from "./verify.ts";

export const MAX_BODY_BYTES = 64 * 1024;

export interface SignalsServerDeps {
  tls: { cert: string; key: string };
  host: string;
  port: number;
  backChannel: BackChannelReceiver | undefined;
  streams: ReadonlyMap<string, { receiver: SsfReceiver; pushToken: string | undefined }>;
  end: (signal: Signal) => Promise<SignalOutcome>;
  namespaces: () => Promise<string[]>;
  count: (receiver: string, result: string) => void;
  log: Logger;
}

export interface SignalsServer {
  port: number;
  setTls(tls: { cert: string; key: string }): void;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_BODY_BYTES) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body?: object): void {
  if (res.headersSent) return;
  res.writeHead(status, { "cache-control": "no-store", ...(body === undefined ? { "content-length": "0" } : { "content-type": "application/json" }) });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

function bearerMatches(header: string | undefined, expected: string): boolean {
  if (header === undefined || !header.startsWith("Bearer ")) return false;
  return timingSafeEqual(digest(header.slice(7)), digest(expected));
}

export async function startSignalsServer(d: SignalsServerDeps): Promise<SignalsServer> {
  const server: Server = createServer({ cert: d.tls.cert, key: d.tls.key, minVersion: "TLSv1.2" }, (req, res) => {
    handle(d, req, res).catch((err: unknown) => {
      d.log.error({ event: "signals.handler_error", err: err instanceof Error ? err.name : typeof err }, "unexpected error handling a signal");
      send(res, 500, { error: "server_error" });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 100;
  server.on("clientError", (_err, socket) => {
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(d.port, d.host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    setTls: (tls) => {
      server.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function handle(d: SignalsServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "").split("?")[0] ?? "";
  if (req.method === "GET" && path === "/healthz") {
    send(res, 200, { ok: true });
    return;
  }
  if (path === "/oidc/backchannel-logout" && d.backChannel !== undefined) {
    if (req.method !== "POST") {
      send(res, 405, { error: "invalid_request", error_description: "use POST" });
      return;
    }
    return backChannel(d, d.backChannel, req, res);
  }
  const push = /^\/ssf\/push\/([a-z0-9-]{1,63})$/u.exec(path);
  const stream = push === null ? undefined : d.streams.get(push[1] ?? "");
  if (stream?.pushToken !== undefined) {
    if (req.method !== "POST") {
      send(res, 405, { err: "invalid_request", description: "use POST" });
      return;
    }
    return ssfPush(d, stream.receiver, stream.pushToken, req, res);
  }
  send(res, 404, { error: "not_found" });
}

async function backChannel(d: SignalsServerDeps, receiver: BackChannelReceiver, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refuse = (reason: string, description: string): void => {
    d.count("backchannel-logout", reason);
    d.log.info({ event: "signals.refused", receiver: "backchannel-logout", reason }, description);
    send(res, 400, { error: "invalid_request", error_description: description });
  };
  if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    refuse("content_type", "the body must be application/x-www-form-urlencoded");
    return;
  }
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      refuse("oversized", "the request body is too large");
      return;
    }
    throw err;
  }
  const tokens = new URLSearchParams(body).getAll("logout_token");
  if (tokens.length !== 1 || tokens[0] === undefined || tokens[0] === "") {
    refuse("no_token", "exactly one logout_token is required");
    return;
  }
  let action;
  try {
    action = await receiver.validate(tokens[0]);
  } catch (err) {
    if (err instanceof SignalError) {
      refuse(err.reason, err.message);
      return;
    }
    throw err;
  }
  const namespaces = await d.namespaces().catch((err: unknown) => {
    if (err instanceof SignalError) return undefined; // not ready: retryable
    throw err;
  });
  const outcome = namespaces === undefined ? undefined : await d.end(receiver.signalOf(action, namespaces));
  if (outcome === undefined || (outcome.failed.length > 0 && outcome.created.length + outcome.existing.length === 0)) {
    d.count("backchannel-logout", "not_applied");
    send(res, 503, { error: "temporarily_unavailable", error_description: "the logout could not be applied now" });
    return;
  }
  await receiver.replay.remember(action.issuer, action.jti, receiver.replayTtlMs(action.issuer));
  d.count("backchannel-logout", "accepted");
  send(res, 200);
}

async function ssfPush(d: SignalsServerDeps, receiver: SsfReceiver, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const counter = `ssf/${receiver.name}`;
  const refuse = (reason: string, err: SignalErrorCode, description: string): void => {
    d.count(counter, reason);
    d.log.info({ event: "signals.refused", receiver: counter, reason, err }, description);
    // RFC 8935 §2.3: every error parsing, validating or authenticating a SET is a 400; a valid SET that cannot be
    // applied now is a 503 (retryable).
    send(res, err === "temporarily_unavailable" ? 503 : 400, { err, description });
  };
  if (!bearerMatches(req.headers.authorization, token)) {
    refuse("authentication_failed", "authentication_failed", "the push request's bearer token is not this stream's");
    return;
  }
  if ((req.headers["content-type"] ?? "").toLowerCase().split(";")[0]?.trim() !== "application/secevent+jwt") {
    refuse("content_type", "invalid_request", "the body must be application/secevent+jwt");
    return;
  }
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (!(err instanceof BodyTooLarge)) throw err;
    refuse("oversized", "invalid_request", "the SET is too large");
    return;
  }
  try {
    await receiver.process(body.trim());
  } catch (err) {
    if (!(err instanceof SignalError)) throw err;
    refuse(err.reason, err.code, err.message);
    return;
  }
  d.count(counter, "accepted");
  send(res, 202);
}
