import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  createIssuer,
  echo,
  openTunnel,
  parseAnswer,
  policy,
  rawExchange,
  rule,
  startEchoServer,
  startSidecar,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

describe("sidecar proxy: WebSocket upgrades and CONNECT tunnels", () => {
  let app: UpstreamApp;
  let tcp: EchoServer;
  let closedPort: number;
  let issuer: Issuer;
  let sidecar: Sidecar;
  let ops: string;
  let guest: string;

  beforeAll(async () => {
    app = await startUpstreamApp();
    tcp = await startEchoServer();
    const gone = await startEchoServer();
    closedPort = gone.port;
    await gone.close();
    issuer = await createIssuer();
    sidecar = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies: [
        policy(
          "p",
          rule("ops-http", "Allow", { groups: ["ops"], paths: ["/*"] }),
          rule("ops-tunnels", "Allow", { groups: ["ops"], ports: [tcp.port, closedPort] }),
          rule("anyone-any-port", "Allow", { groups: ["broad"] }),
        ),
      ],
    });
    ops = await issuer.token({ sub: "olga", sid: "o-1", groups: ["ops"] });
    guest = await issuer.token({ sub: "gus", sid: "g-1", groups: ["guests"] });
  });

  afterAll(async () => {
    await sidecar.close();
    await app.close();
    await tcp.close();
  });

  const upgrade = (headers: string[]): string =>
    `GET /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers.join("\r\n")}\r\n\r\n`;

  it("proxies an authorized WebSocket with the verified identity", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`, { headers: { authorization: `Bearer ${ops}`, "x-vigil-subject": "mallory" } });
    await once(ws, "open");
    ws.send("ping");
    const [data] = (await once(ws, "message")) as [Buffer];
    expect(data.toString()).toBe("ping");
    const handshake = app.upgrades[app.upgrades.length - 1]!;
    const values = (name: string) => handshake.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === name);
    expect(values("x-vigil-subject")).toEqual(["olga"]);
    expect(values("authorization")).toEqual([]); // the token stays with the sidecar (proxy-0003)
    expect(values("x-forwarded-for")).toEqual(["127.0.0.1"]);
    ws.close();
    await once(ws, "close");
  });

  it("refuses an upgrade without a token with 401 JSON and opens no upstream socket", async () => {
    const before = app.connections();
    const exchange = await rawExchange(sidecar.port, upgrade(["Upgrade: websocket"]));
    const answer = parseAnswer(exchange.text);
    expect(answer.status).toBe(401);
    expect(answer.headers).toContain("WWW-Authenticate: Bearer");
    expect(answer.body).toMatchObject({ code: "TOKEN_MISSING" });
    expect(exchange.closed).toBe(true);
    expect(app.connections()).toBe(before);
  });

  it("refuses an upgrade the policy does not allow with 403", async () => {
    const exchange = await rawExchange(sidecar.port, upgrade(["Upgrade: websocket", `Authorization: Bearer ${guest}`]));
    expect(parseAnswer(exchange.text)).toMatchObject({ status: 403, body: { code: "NO_MATCHING_RULE" } });
  });

  it("refuses non-WebSocket upgrades (h2c) with 400", async () => {
    const exchange = await rawExchange(sidecar.port, upgrade(["Upgrade: h2c", `Authorization: Bearer ${ops}`]));
    expect(parseAnswer(exchange.text)).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
  });

  it("tunnels raw TCP to an allowed port of this pod", async () => {
    const socket = await openTunnel(sidecar.port, tcp.port, ops);
    expect(await echo(socket, "SELECT 1;")).toBe("SELECT 1;");
    socket.destroy();
  });

  const connectTo = (authority: string, token?: string): string =>
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${token === undefined ? "" : `Proxy-Authorization: Bearer ${token}\r\n`}\r\n`;

  it("asks for proxy credentials (407) when CONNECT carries no token", async () => {
    const exchange = await rawExchange(sidecar.port, connectTo(`127.0.0.1:${tcp.port}`));
    const answer = parseAnswer(exchange.text);
    expect(answer.status).toBe(407);
    expect(answer.headers).toContain("Proxy-Authenticate: Bearer");
    expect(answer.body).toMatchObject({ code: "TOKEN_MISSING" });
    expect(exchange.closed).toBe(true);
  });

  it("refuses a tunnel to a port the policy does not allow with 403", async () => {
    const before = tcp.connections();
    const exchange = await rawExchange(sidecar.port, connectTo(`127.0.0.1:${tcp.port}`, guest));
    expect(parseAnswer(exchange.text)).toMatchObject({ status: 403, body: { code: "NO_MATCHING_RULE" } });
    expect(tcp.connections()).toBe(before);
  });

  it("refuses tunnels to other hosts, even for an identity allowed any port", async () => {
    const broad = await issuer.token({ sub: "bea", sid: "b-1", groups: ["broad"] });
    for (const authority of ["10.0.0.5:22", "example.com:443", "169.254.169.254:80"]) {
      const exchange = await rawExchange(sidecar.port, connectTo(authority, broad));
      expect(parseAnswer(exchange.text), authority).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
    }
  });

  it("refuses a tunnel to the application's HTTP port (it would bypass header sanitising)", async () => {
    const broad = await issuer.token({ sub: "bea", sid: "b-1", groups: ["broad"] });
    const exchange = await rawExchange(sidecar.port, connectTo(`127.0.0.1:${app.port}`, broad));
    expect(parseAnswer(exchange.text)).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
  });

  it("answers 502 when nothing listens on the tunnel port", async () => {
    const exchange = await rawExchange(sidecar.port, connectTo(`127.0.0.1:${closedPort}`, ops));
    expect(parseAnswer(exchange.text)).toMatchObject({ status: 502, body: { code: "UPSTREAM_UNAVAILABLE" } });
    expect(sidecar.connections.size).toBe(0);
  });
});

describe("sidecar proxy: long-lived flows outlive HTTP timeouts", () => {
  it("an idle WebSocket and tunnel survive headers/keep-alive timeouts many times over", async () => {
    const app = await startUpstreamApp();
    const tcp = await startEchoServer();
    const issuer = await createIssuer();
    const sidecar = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies: [policy("p", rule("ops", "Allow", { groups: ["ops"] }))],
      timeouts: { headersMs: 100, keepAliveMs: 100, requestMs: 200, checkIntervalMs: 25 },
    });
    try {
      const token = await issuer.token({ sub: "olga", sid: "o-1", groups: ["ops"] });
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`, { headers: { authorization: `Bearer ${token}` } });
      await once(ws, "open");
      const tunnel = await openTunnel(sidecar.port, tcp.port, token);
      await new Promise((r) => setTimeout(r, 600));
      ws.send("still");
      const [data] = (await once(ws, "message")) as [Buffer];
      expect(data.toString()).toBe("still");
      expect(await echo(tunnel, "alive")).toBe("alive");
      ws.terminate();
      tunnel.destroy();
    } finally {
      await sidecar.close();
      await app.close();
      await tcp.close();
    }
  });
});
