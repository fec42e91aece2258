/**
 * The demo's sample application ("web-0"'s app container), run as its own process by scripts/demo.ts:
 *
 *   DEMO_APP_PORT=… DEMO_ECHO_PORT=… node scripts/demo/app.ts
 *
 * HTTP on 127.0.0.1:DEMO_APP_PORT (only the sidecar talks to it):
 *   GET|POST /anything  → 200 JSON: who the sidecar says is calling (the verified `x-vigil-*` identity headers)
 *   GET /stream         → an endless, slow text download (one line a second): a long-lived connection to cut
 *   GET /ws (upgrade)   → a WebSocket echo
 * A TCP echo on 127.0.0.1:DEMO_ECHO_PORT: the "SSH-like" port reached through CONNECT tunnels.
 * Prints one `listening` line once both are up; SIGTERM/SIGINT close everything and exit 0.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { WebSocketServer } from "ws";

const IDENTITY_HEADERS = ["x-vigil-subject", "x-vigil-email", "x-vigil-groups", "x-vigil-session"] as const;
const MAX_BODY = 64 * 1024;

function port(name: string): number {
  const raw = process.env[name] ?? "";
  const n = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || n < 1 || n > 65535) {
    process.stderr.write(`demo app: ${name} must be a port number\n`);
    process.exit(2);
  }
  return n;
}

function identityOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of IDENTITY_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

function stream(req: IncomingMessage, res: ServerResponse): void {
  const subject = req.headers["x-vigil-subject"];
  const who = typeof subject === "string" ? subject : "someone";
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  let n = 0;
  const tick = (): void => {
    n += 1;
    res.write(`${new Date().toISOString()}  still streaming to ${who} (${n})\n`);
  };
  tick();
  const timer = setInterval(tick, 1000);
  res.on("close", () => {
    clearInterval(timer);
  });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (path === "/stream") {
    stream(req, res);
    return;
  }
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
  });
  req.on("end", () => {
    const identity = identityOf(req);
    const body = {
      hello: identity["x-vigil-subject"] ?? "anonymous",
      method: req.method,
      path,
      ...(size > 0 ? { receivedBytes: size } : {}),
      identityHeadersFromVigil: identity,
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  });
}

async function main(): Promise<void> {
  const appPort = port("DEMO_APP_PORT");
  const echoPort = port("DEMO_ECHO_PORT");
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };

  const http = createServer(handle);
  http.on("connection", track);
  const wss = new WebSocketServer({ server: http, path: "/ws", maxPayload: MAX_BODY });
  wss.on("connection", (ws, req) => {
    ws.on("error", () => undefined);
    const who = req.headers["x-vigil-subject"];
    ws.send(`hello ${typeof who === "string" ? who : "anonymous"}: I echo what you send`);
    ws.on("message", (data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
  });

  const echo = createTcpServer((s) => {
    track(s);
    s.pipe(s);
  });

  http.listen(appPort, "127.0.0.1");
  echo.listen(echoPort, "127.0.0.1");
  await Promise.all([once(http, "listening"), once(echo, "listening")]);
  process.stdout.write(`listening http=${(http.address() as AddressInfo).port} echo=${(echo.address() as AddressInfo).port}\n`);

  const stop = (): void => {
    wss.close();
    for (const s of sockets) s.destroy();
    http.close();
    echo.close();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo app: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
