/**
 * Real-socket harness for the sidecar proxy: a small upstream application (HTTP routes, a slow
 * streaming download, a WebSocket echo), a TCP echo server for tunnels, an issuer with a real
 * ES256 key (inline JWKS, the real verifier), the real credential extraction, real authorization over
 * CompiledPolicy objects, and the sidecar in front. Plus raw-socket helpers.
 */
import { KeyObject, sign as signBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { once } from "node:events";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { pino } from "pino";
import { WebSocketServer } from "ws";
import type { CompiledPolicy, CompiledRule } from "../../../operator/api/compiled-policy.ts";
import { authorize } from "../../../sidecar/auth/authorize.ts";
import { extractToken } from "../../../sidecar/auth/credentials.ts";
import { createTokenVerifier, sessionKeyOf } from "../../../sidecar/auth/jwt.ts";
import { createSidecarServer, type SidecarServer, type SidecarTimeouts } from "../../../sidecar/proxy/server.ts";
import { ConnectionTable } from "../../../sidecar/sessions/connections.ts";
import { newSessionId } from "../../../sidecar/sessions/session-id.ts";

export const ISSUER = "https://idp.vigil.test";
export const AUDIENCE = "vigil-sidecar";

export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

export interface UpstreamApp {
  port: number;
  seen: SeenRequest[];
  /** WebSocket handshakes the app accepted. */
  upgrades: SeenRequest[];
  /** Open TCP connections to the app (HTTP and WebSocket). */
  connections(): number;
  /** Resolves when the in-flight /stream response is closed on the app side. */
  streamClosed: Promise<void>[];
  close(): Promise<void>;
}

/** The application behind the sidecar. */
export async function startUpstreamApp(): Promise<UpstreamApp> {
  const seen: SeenRequest[] = [];
  const upgrades: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const streamClosed: Promise<void>[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() });
      route(req, res);
    });
  });
  function route(req: IncomingMessage, res: import("node:http").ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/stream") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const timer = setInterval(() => res.write("x".repeat(1024)), 20);
      streamClosed.push(
        once(res, "close").then(() => {
          clearInterval(timer);
        }),
      );
      return;
    }
    if (path === "/slow") return; // never answers
    if (path === "/reset-mid") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100000" });
      res.write("partial");
      setTimeout(() => req.socket.resetAndDestroy(), 50);
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "keep-alive": "timeout=30", "x-app": "yes" });
    res.end(JSON.stringify({ ok: true }));
  }
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", (ws, req) => {
    upgrades.push({ method: req.method ?? "", url: req.url ?? "", rawHeaders: req.rawHeaders, body: "" });
    ws.on("message", (data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
    ws.on("error", () => undefined);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as import("node:net").AddressInfo).port,
    seen,
    upgrades,
    connections: () => sockets.size,
    streamClosed,
    close: async () => {
      wss.close();
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

export interface EchoServer {
  port: number;
  connections(): number;
  /** Connections accepted since start (open or not). */
  accepted(): number;
  close(): Promise<void>;
}

/** A TCP echo service (the "SSH/database" port reached through CONNECT). */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: TcpServer = createTcpServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as import("node:net").AddressInfo).port,
    connections: () => sockets.size,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

export interface Issuer {
  token(claims: { sub: string; sid: string; email?: string; groups?: string[] }): Promise<string>;
  /** A token signed by a key the sidecar does not trust. */
  foreignToken(claims: { sub: string; sid: string }): Promise<string>;
  /**
   * A token genuinely signed by the trusted key over exactly this payload JSON text (so it can hold what
   * JSON.stringify never writes, e.g. `"exp":1e400`) and this protected header (default ES256, kid k1, typ JWT).
   */
  signedText(payloadJson: string, header?: Record<string, unknown>): string;
  /** Standard claims for `signedText` payloads: iss, aud, iat now, exp in 10 minutes. */
  claims(extra: Record<string, unknown>): Record<string, unknown>;
  jwks: { keys: import("jose").JWK[] };
}

export async function createIssuer(): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const foreign = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const sign = (key: CryptoKey, claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(key);
  const b64 = (data: string | Buffer): string => Buffer.from(data).toString("base64url");
  return {
    token: (claims) => sign(privateKey, claims),
    foreignToken: (claims) => sign(foreign.privateKey, claims),
    signedText: (payloadJson, header = { alg: "ES256", kid: "k1", typ: "JWT" }) => {
      const input = `${b64(JSON.stringify(header))}.${b64(payloadJson)}`;
      return `${input}.${b64(signBytes("sha256", Buffer.from(input), { key: KeyObject.from(privateKey), dsaEncoding: "ieee-p1363" }))}`;
    },
    claims: (extra) => {
      const iat = Math.floor(Date.now() / 1000);
      return { iss: ISSUER, aud: AUDIENCE, iat, exp: iat + 600, ...extra };
    },
    jwks: { keys: [jwk] },
  };
}

/** Compiled-policy builder: one policy selecting the workload, with the given rules. */
export function policy(name: string, ...rules: CompiledRule[]): CompiledPolicy {
  return {
    v: 1,
    namespace: "shop",
    name,
    uid: `uid-${name}`,
    generation: 1,
    hash: `hash-${name}`,
    selector: { matchLabels: { app: "shop" }, matchExpressions: [] },
    rules,
    session: { idleTimeoutSeconds: 900, absoluteTimeoutSeconds: 28_800 },
    failureMode: "BestEffort",
  };
}

export function rule(
  name: string,
  action: "Allow" | "Deny",
  opts: { groups?: string[]; subjects?: string[]; paths?: string[]; ports?: number[] } = {},
): CompiledRule {
  return {
    name,
    action,
    identities: [
      ...(opts.groups ?? []).map((value) => ({ kind: "group" as const, value })),
      ...(opts.subjects ?? []).map((value) => ({ kind: "subject" as const, value })),
    ],
    requests:
      opts.paths === undefined && opts.ports === undefined
        ? []
        : [
            {
              methods: [],
              paths: (opts.paths ?? []).map((value) =>
                value.endsWith("*") ? { kind: "prefix" as const, value: value.slice(0, -1) } : { kind: "exact" as const, value },
              ),
              hosts: [],
              ports: opts.ports ?? [],
            },
          ],
    sourceCIDRs: [],
    schedule: null,
  };
}

export interface Sidecar {
  port: number;
  connections: ConnectionTable;
  /** The policies the sidecar authorizes against (replace to simulate a policy change). */
  policies: CompiledPolicy[];
  server: SidecarServer;
  authorizeNow(flow: { principal: import("../../../sidecar/auth/types.ts").Principal; facts: import("../../../sidecar/auth/types.ts").RequestFacts }): boolean;
  close(): Promise<void>;
}

export async function startSidecar(opts: {
  issuer: Issuer;
  upstreamPort: number;
  policies: CompiledPolicy[];
  timeouts?: Partial<SidecarTimeouts>;
  maxHeaderBytes?: number;
  /** Token cookie and token header (as the sidecar's settings name them) and whether the app receives credentials. */
  credentials?: { cookie?: string; header?: string; forward?: boolean };
  /** Whether the peer (127.0.0.1) is a trusted proxy, so the token header may carry the token. Default false. */
  peerTrusted?: boolean;
}): Promise<Sidecar> {
  const sources = { cookie: opts.credentials?.cookie ?? "", header: (opts.credentials?.header ?? "").toLowerCase() };
  const verifier = createTokenVerifier([{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: opts.issuer.jwks }]);
  // Stand-in for the session registry: one session ID per (iss, sid).
  const sessions = new Map<string, string>();
  const connections = new ConnectionTable();
  const state = { policies: opts.policies };
  const decide = (principal: import("../../../sidecar/auth/types.ts").Principal, facts: import("../../../sidecar/auth/types.ts").RequestFacts) =>
    authorize(principal, facts, state.policies, new Date(), { defaultAction: "Deny" });
  const server = createSidecarServer({
    upstream: { host: "127.0.0.1", port: opts.upstreamPort },
    connections,
    logger: pino({ level: process.env.VIGIL_TEST_LOG ?? "silent" }),
    timeouts: { headersMs: 5_000, requestMs: 30_000, keepAliveMs: 30_000, upstreamMs: 5_000, ...opts.timeouts },
    ...(opts.maxHeaderBytes === undefined ? {} : { maxHeaderBytes: opts.maxHeaderBytes }),
    credentials: { ...sources, forward: opts.credentials?.forward ?? false },
    gate: {
      authenticate: async (req, ctx) => {
        const principal = await verifier.verify(extractToken(req.headers, ctx.kind === "tunnel", sources, opts.peerTrusted ?? false));
        const key = sessionKeyOf(principal);
        let sessionId = sessions.get(key);
        if (sessionId === undefined) {
          sessionId = newSessionId();
          sessions.set(key, sessionId);
        }
        return { principal, sessionId };
      },
      authorizeRequest: decide,
    },
  });
  const address = await server.listen(0, "127.0.0.1");
  return {
    port: address.port,
    connections,
    get policies() {
      return state.policies;
    },
    set policies(p: CompiledPolicy[]) {
      state.policies = p;
    },
    server,
    authorizeNow: (flow) => decide(flow.principal, flow.facts).allowed,
    close: () => server.close(),
  };
}

export interface RawExchange {
  /** Everything the sidecar sent before closing (or before the timeout). */
  text: string;
  closed: boolean;
}

/** Send raw bytes, collect the answer until the sidecar closes the socket (or `waitMs` passes). */
export async function rawExchange(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<RawExchange> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket.write(bytes);
  return collect(socket, waitMs);
}

export function collect(socket: Socket, waitMs: number): Promise<RawExchange> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    };
    const timer = setTimeout(() => {
      done(false);
    }, waitMs);
    socket.once("close", () => {
      done(true);
    });
  });
}

/**
 * Send raw bytes and resolve with the first answer once it is complete: its head, plus its body when it declares a
 * Content-Length (an answer that keeps the connection open, like 101 or a CONNECT 200, resolves at its head).
 */
export async function firstAnswer(port: number, bytes: string): Promise<{ status: number; headers: string; body: unknown }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket.write(bytes);
  let text = "";
  await new Promise<void>((resolve) => {
    const complete = (): boolean => {
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      return length === null || Buffer.byteLength(text.slice(end + 4), "latin1") >= Number(length[1]);
    };
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
      if (complete()) resolve();
    });
    socket.once("close", () => {
      resolve();
    });
  });
  socket.destroy();
  return parseAnswer(text);
}

/** Status code and parsed JSON body of a raw HTTP answer. */
export function parseAnswer(text: string): { status: number; headers: string; body: unknown } {
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? "0");
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  return { status, headers: head, body: parsed };
}

/** Wait until `check` holds (polling; for effects that land after a socket event). */
export async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Open a CONNECT tunnel and return the raw socket once the sidecar said 200. */
export async function openTunnel(sidecarPort: number, targetPort: number, token: string): Promise<Socket> {
  const socket = connect(sidecarPort, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`);
  const [first] = (await once(socket, "data")) as [Buffer];
  const head = first.toString("latin1");
  if (!head.startsWith("HTTP/1.1 200")) {
    socket.destroy();
    throw new Error(`tunnel refused: ${head.split("\r\n")[0] ?? ""} ${/"code":"([A-Z_]+)"/.exec(head)?.[1] ?? ""}`.trimEnd());
  }
  return socket;
}

/** One echo round trip over a raw socket. */
export async function echo(socket: Socket, text: string): Promise<string> {
  socket.write(text);
  const [data] = (await once(socket, "data")) as [Buffer];
  return data.toString();
}
