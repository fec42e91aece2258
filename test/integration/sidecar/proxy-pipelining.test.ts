/**
 * Pipelined requests (several requests written back to back on one connection, in one write): answered in order,
 * and nothing read after an answer that closes the connection reaches the application (issue 8).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createIssuer,
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

/** Status codes of every answer in a raw byte stream, in order. */
const statuses = (text: string): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe("sidecar proxy: pipelined requests", () => {
  let app: UpstreamApp;
  let tcp: EchoServer;
  let issuer: Issuer;
  let sidecar: Sidecar;
  let token: string;

  beforeAll(async () => {
    [app, tcp, issuer] = await Promise.all([startUpstreamApp(), startEchoServer(), createIssuer()]);
    sidecar = await startSidecar({ issuer, upstreamPort: app.port, policies: [policy("open", rule("anyone", "Allow"))] });
    token = await issuer.token({ sub: "alice", sid: "a-1" });
  });

  afterAll(async () => {
    await sidecar.close();
    await Promise.all([app.close(), tcp.close()]);
  });

  const get = (path: string, extra: string[] = []): string =>
    `${[`GET ${path} HTTP/1.1`, "Host: shop.test", `Authorization: Bearer ${token}`, ...extra].join("\r\n")}\r\n\r\n`;

  /**
   * A request on a fresh connection through the sidecar, answered after everything sent earlier was handled: the
   * application has seen by then whatever the sidecar forwarded before.
   */
  const barrier = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: sidecar.port, path: "/barrier", headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  const appSaw = (path: string): boolean => app.seen.some((s) => s.url === path);

  it("answers valid pipelined requests in order, each forwarded once", async () => {
    const exchange = await rawExchange(sidecar.port, get("/first") + get("/second") + get("/third", ["Connection: close"]));
    expect(statuses(exchange.text)).toEqual([200, 200, 200]);
    const order = app.seen.map((s) => s.url).filter((u) => ["/first", "/second", "/third"].includes(u));
    expect(order).toEqual(["/first", "/second", "/third"]);
  });

  it("keeps serving after a refusal that leaves the connection open (401 to a complete GET)", async () => {
    const anonymous = "GET /anonymous HTTP/1.1\r\nHost: shop.test\r\n\r\n";
    const exchange = await rawExchange(sidecar.port, anonymous + get("/after-401", ["Connection: close"]));
    expect(statuses(exchange.text)).toEqual([401, 200]);
    expect(appSaw("/anonymous")).toBe(false);
    expect(appSaw("/after-401")).toBe(true);
  });

  it("forwards nothing pipelined behind a refusal that closes the connection (400, two Host headers)", async () => {
    const malformed = "GET /malformed HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n";
    const exchange = await rawExchange(sidecar.port, malformed + get("/smuggled-after-400"));
    expect(exchange.closed).toBe(true);
    expect(statuses(exchange.text)).toEqual([400]);
    expect(exchange.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(await barrier()).toBe(200);
    expect(appSaw("/malformed")).toBe(false);
    expect(appSaw("/smuggled-after-400")).toBe(false);
  });

  it("forwards nothing pipelined behind a 401 that closes the connection because the refused body was never read", async () => {
    // The refused request's body is larger than the socket and stream buffers, so it is still unread when the
    // refusal goes out (Connection: close); the valid request behind it is read only afterwards.
    const body = "x".repeat(1024 * 1024);
    const refused = `POST /upload HTTP/1.1\r\nHost: shop.test\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const exchange = await rawExchange(sidecar.port, refused + get("/smuggled-after-401"));
    expect(exchange.closed).toBe(true);
    expect(statuses(exchange.text)).toEqual([401]);
    expect(exchange.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(await barrier()).toBe(200);
    expect(appSaw("/upload")).toBe(false);
    expect(appSaw("/smuggled-after-401")).toBe(false);
  });

  it("does not forward a request whose connection a parser refusal closed while it was being admitted", async () => {
    // The valid request is admitted asynchronously; the malformed bytes behind it are refused (400, closed) first.
    const exchange = await rawExchange(
      sidecar.port,
      get("/before-garbage") + "GET /x HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    );
    expect(exchange.closed).toBe(true);
    expect(statuses(exchange.text)).toEqual([400]);
    expect(await barrier()).toBe(200);
    expect(appSaw("/before-garbage")).toBe(false);
  });

  it("opens no tunnel or WebSocket pipelined behind a refusal that closes the connection", async () => {
    const malformed = "GET /malformed HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n";
    const connect = `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`;
    const upgrade = get("/ws", ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]);
    const [dialled, upgrades] = [tcp.accepted(), app.upgrades.length];
    const tunnel = await rawExchange(sidecar.port, malformed + connect);
    const websocket = await rawExchange(sidecar.port, malformed + upgrade);
    for (const exchange of [tunnel, websocket]) {
      expect(exchange.closed).toBe(true);
      expect(statuses(exchange.text)).toEqual([400]);
    }
    expect(await barrier()).toBe(200);
    expect(tcp.accepted()).toBe(dialled);
    expect(app.upgrades.length).toBe(upgrades);
  });

  it("opens a tunnel pipelined behind a request only once that request was answered", async () => {
    const connect = `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`;
    const exchange = await rawExchange(sidecar.port, get("/before-tunnel") + connect + "ping", 1_000);
    expect(statuses(exchange.text)).toEqual([200, 200]);
    expect(exchange.text.indexOf("Connection Established")).toBeGreaterThan(exchange.text.indexOf('{"ok":true}'));
    expect(exchange.text.endsWith("ping")).toBe(true);
  });
});
