import { once } from "node:events";
import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createIssuer,
  eventually,
  parseAnswer,
  policy,
  rawExchange,
  rule,
  startSidecar,
  startUpstreamApp,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

describe("sidecar proxy: hostile and broken clients, broken upstreams", () => {
  let app: UpstreamApp;
  let sidecar: Sidecar;
  let token: string;

  beforeAll(async () => {
    app = await startUpstreamApp();
    const issuer = await createIssuer();
    sidecar = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies: [policy("p", rule("all", "Allow"))],
      timeouts: { headersMs: 400, checkIntervalMs: 100 },
      maxHeaderBytes: 8 * 1024,
    });
    token = await issuer.token({ sub: "alice", sid: "a-1", groups: ["staff"] });
  });

  afterAll(async () => {
    await sidecar.close();
    await app.close();
  });

  const head = (lines: string[]): string => `${["Host: shop.test", `Authorization: Bearer ${token}`, ...lines].join("\r\n")}\r\n\r\n`;

  // Built lazily: the token exists only once beforeAll ran.
  const smuggling: [string, () => string][] = [
    ["CL + TE", () => `POST /orders HTTP/1.1\r\n${head(["Content-Length: 6", "Transfer-Encoding: chunked"])}0\r\n\r\nG`],
    ["TE + CL", () => `POST /orders HTTP/1.1\r\n${head(["Transfer-Encoding: chunked", "Content-Length: 6"])}0\r\n\r\nG`],
    ["two equal Content-Length", () => `POST /orders HTTP/1.1\r\n${head(["Content-Length: 5", "Content-Length: 5"])}hello`],
    ["two differing Content-Length", () => `POST /orders HTTP/1.1\r\n${head(["Content-Length: 5", "Content-Length: 6"])}hello!`],
    ["Content-Length list", () => `POST /orders HTTP/1.1\r\n${head(["Content-Length: 5, 5"])}hello`],
    ["Transfer-Encoding: xchunked", () => `POST /orders HTTP/1.1\r\n${head(["Transfer-Encoding: xchunked"])}5\r\nhello\r\n0\r\n\r\n`],
    ["Transfer-Encoding: chunked, identity", () => `POST /orders HTTP/1.1\r\n${head(["Transfer-Encoding: chunked, identity"])}5\r\nhello\r\n0\r\n\r\n`],
    ["Transfer-Encoding obs-fold", () => `POST /orders HTTP/1.1\r\n${head(["Transfer-Encoding:", " chunked"])}5\r\nhello\r\n0\r\n\r\n`],
    ["space before colon", () => `POST /orders HTTP/1.1\r\n${head(["Content-Length : 5"])}hello`],
    ["bare LF line endings", () => `POST /orders HTTP/1.1\nHost: shop.test\nAuthorization: Bearer ${token}\nContent-Length: 5\n\nhello`],
    ["invalid chunk size", () => `POST /orders HTTP/1.1\r\n${head(["Transfer-Encoding: chunked"])}zz\r\nhello\r\n0\r\n\r\n`],
    ["two Host headers", () => `GET /orders HTTP/1.1\r\n${head(["Host: evil.test"])}`],
    ["absolute-form target", () => `GET http://evil.test/orders HTTP/1.1\r\n${head([])}`],
  ];

  it.each(smuggling)("refuses %s with 400, and the app sees no request", async (_name, bytes) => {
    const before = app.seen.length;
    const exchange = await rawExchange(sidecar.port, bytes());
    expect(parseAnswer(exchange.text).status).toBe(400);
    expect(exchange.closed).toBe(true);
    expect(app.seen.length).toBe(before);
  });

  it.each(["GET", "DELETE", "OPTIONS"])("re-frames a chunked %s body so nothing is smuggled behind it", async (method) => {
    const before = app.seen.length;
    const hidden = "GET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n";
    const chunk = `${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
    const exchange = await rawExchange(sidecar.port, `${method} /orders HTTP/1.1\r\n${head(["Transfer-Encoding: chunked", "Connection: close"])}${chunk}`);
    expect(parseAnswer(exchange.text).status).toBe(200);
    await eventually(() => app.seen.length > before);
    await new Promise((r) => setTimeout(r, 100));
    expect(app.seen.slice(before).map((s) => `${s.method} ${s.url}`)).toEqual([`${method} /orders`]);
    expect(app.seen[before]!.body).toBe(hidden);
  });

  it("answers 431 HEADERS_TOO_LARGE to oversized request headers", async () => {
    const before = app.seen.length;
    const exchange = await rawExchange(sidecar.port, `GET /orders HTTP/1.1\r\n${head([`X-Big: ${"a".repeat(10 * 1024)}`])}`);
    const answer = parseAnswer(exchange.text);
    expect(answer.status).toBe(431);
    expect(answer.body).toEqual({ code: "HEADERS_TOO_LARGE", message: "The request headers are too large." });
    expect(exchange.closed).toBe(true);
    expect(app.seen.length).toBe(before);
  });

  it("closes a connection whose headers trickle in slower than headersTimeout (408 REQUEST_TIMEOUT when it can still answer)", async () => {
    const socket = connect(sidecar.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await once(socket, "connect");
    socket.write("GET /orders HTTP/1.1\r\nHost: shop.test\r\n");
    const drip = setInterval(() => socket.write("X-Slow: 1\r\n"), 150);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    const [hadError] = (await once(socket, "close")) as [boolean];
    clearInterval(drip);
    const text = Buffer.concat(chunks).toString();
    expect(hadError || text.startsWith("HTTP/1.1 408")).toBe(true);
    if (text !== "") expect(parseAnswer(text).body).toMatchObject({ code: "REQUEST_TIMEOUT" });
  });

  it("survives a client that aborts mid-response, leaking no socket on either side", async () => {
    const streamsBefore = app.streamClosed.length;
    const socket = connect(sidecar.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(`GET /stream HTTP/1.1\r\n${head([])}`);
    await once(socket, "data");
    await eventually(() => sidecar.connections.size === 1 && app.streamClosed.length === streamsBefore + 1);
    socket.destroy();
    await app.streamClosed[streamsBefore];
    await eventually(() => sidecar.connections.size === 0 && app.connections() === 0);
  });

  it("aborts the upstream request when the client leaves before the response starts", async () => {
    const before = app.seen.length;
    const socket = connect(sidecar.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(`GET /slow HTTP/1.1\r\n${head([])}`);
    await eventually(() => app.seen.length === before + 1 && app.connections() === 1);
    socket.destroy();
    await eventually(() => sidecar.connections.size === 0 && app.connections() === 0);
  });

  it("survives an upstream reset mid-response: the client's socket is closed, nothing leaks", async () => {
    const socket = connect(sidecar.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await once(socket, "connect");
    socket.write(`GET /reset-mid HTTP/1.1\r\n${head([])}`);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    await once(socket, "close");
    const text = Buffer.concat(chunks).toString();
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain("partial");
    await eventually(() => sidecar.connections.size === 0 && app.connections() === 0);
    // Still serving.
    const answer = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: sidecar.port, path: "/orders", headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(answer).toBe(200);
  });

  it("does not crash on Trailer / TE: trailers and a declared trailer on GET", async () => {
    const exchange = await rawExchange(sidecar.port, `GET /orders HTTP/1.1\r\n${head(["Trailer: X-Sum", "TE: trailers", "Connection: close"])}`);
    expect(parseAnswer(exchange.text).status).toBe(200);
  });
});
