/**
 * The request's credentials on real sockets (issue 8): one credential per request, refused when ambiguous, and
 * withheld from the application unless the workload asks for them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createIssuer,
  firstAnswer,
  policy,
  rawExchange,
  rule,
  startEchoServer,
  startSidecar,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type SeenRequest,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

/** Values of one header as the application received them (names compared case-insensitively). */
function received(seen: SeenRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) if (seen.rawHeaders[i]!.toLowerCase() === name) out.push(seen.rawHeaders[i + 1]!);
  return out;
}

const COOKIE = "vigil_token";
const HEADER = "X-Access-Token";

describe("sidecar proxy: credentials", () => {
  let app: UpstreamApp;
  let tcp: EchoServer;
  let issuer: Issuer;
  let sidecar: Sidecar;
  let passing: Sidecar;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    [app, tcp, issuer] = await Promise.all([startUpstreamApp(), startEchoServer(), createIssuer()]);
    const policies = [policy("open", rule("anyone", "Allow"))];
    // The default: credentials withheld. The peer is a trusted proxy, so the token header may carry the token.
    sidecar = await startSidecar({ issuer, upstreamPort: app.port, policies, credentials: { cookie: COOKIE, header: HEADER }, peerTrusted: true });
    // A workload that asked for its users' tokens.
    passing = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies,
      credentials: { cookie: COOKIE, header: HEADER, forward: true },
      peerTrusted: true,
    });
    [alice, bob] = await Promise.all([issuer.token({ sub: "alice", sid: "a-1" }), issuer.token({ sub: "bob", sid: "b-1" })]);
  });

  afterAll(async () => {
    await Promise.all([sidecar.close(), passing.close()]);
    await Promise.all([app.close(), tcp.close()]);
  });

  const request = (path: string, lines: string[]): string => `${[`GET ${path} HTTP/1.1`, "Host: shop.test", ...lines].join("\r\n")}\r\n\r\n`;
  const seenAt = (path: string): SeenRequest | undefined => app.seen.find((s) => s.url === path);

  it.each([
    ["two Authorization headers (two users)", () => [`Authorization: Bearer ${alice}`, `Authorization: Bearer ${bob}`]],
    ["two identical Authorization headers", () => [`Authorization: Bearer ${alice}`, `authorization: Bearer ${alice}`]],
    ["a token in Authorization and another in the token cookie", () => [`Authorization: Bearer ${alice}`, `Cookie: theme=dark; ${COOKIE}=${bob}`]],
    ["a token in Authorization and another in the token header", () => [`Authorization: Bearer ${alice}`, `${HEADER}: ${bob}`]],
    ["two token cookies that differ", () => [`Cookie: ${COOKIE}=${alice}`, `Cookie: ${COOKIE}=${bob}`]],
  ])("refuses %s with 400 CREDENTIALS_AMBIGUOUS, closes the connection and forwards nothing", async (name, lines) => {
    const path = `/ambiguous-${app.seen.length}-${name.length}`;
    // A valid request pipelined behind it must not get through either.
    const exchange = await rawExchange(sidecar.port, request(path, lines()) + request(`${path}-next`, [`Authorization: Bearer ${alice}`]));
    const [status] = [...exchange.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(status).toBe(400);
    expect(exchange.text).toContain('"code":"CREDENTIALS_AMBIGUOUS"');
    expect(exchange.text).not.toContain(alice);
    expect(exchange.closed).toBe(true);
    expect((await firstAnswer(sidecar.port, request("/barrier", [`Authorization: Bearer ${alice}`]))).status).toBe(200);
    expect(seenAt(path)).toBeUndefined();
    expect(seenAt(`${path}-next`)).toBeUndefined();
  });

  it("refuses a WebSocket handshake with two Authorization headers and opens no upstream connection", async () => {
    const upgrades = app.upgrades.length;
    const answer = await firstAnswer(
      sidecar.port,
      request("/ws", [
        `Authorization: Bearer ${alice}`,
        `Authorization: Bearer ${bob}`,
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ]),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "CREDENTIALS_AMBIGUOUS" });
    expect(app.upgrades.length).toBe(upgrades);
  });

  it("refuses a CONNECT with two Proxy-Authorization headers and dials nothing", async () => {
    const dialled = tcp.accepted();
    const answer = await firstAnswer(
      sidecar.port,
      `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: Bearer ${alice}\r\nProxy-Authorization: Bearer ${bob}\r\n\r\n`,
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "CREDENTIALS_AMBIGUOUS" });
    expect(tcp.accepted()).toBe(dialled);
  });

  it("by default the application receives no Authorization, token header or token cookie, and every other cookie", async () => {
    const answer = await firstAnswer(
      sidecar.port,
      request("/withheld", [
        `Authorization: Bearer ${alice}`,
        `${HEADER}: ${alice}`,
        `X_Access_Token: ${alice}`,
        `Cookie: theme=dark; ${COOKIE}=${alice}; lang=en`,
        `Proxy-Authorization: Bearer ${alice}`,
      ]),
    );
    expect(answer.status).toBe(200);
    const seen = seenAt("/withheld")!;
    expect(received(seen, "x-vigil-subject")).toEqual(["alice"]);
    for (const name of ["authorization", "x-access-token", "x_access_token", "proxy-authorization"]) expect(received(seen, name), name).toEqual([]);
    expect(received(seen, "cookie")).toEqual(["theme=dark; lang=en"]);
    expect(seen.rawHeaders.join("\n")).not.toContain(alice);
  });

  it("admits a token from the token cookie or the trusted token header alone, withholding it too", async () => {
    expect((await firstAnswer(sidecar.port, request("/by-cookie", [`Cookie: ${COOKIE}=${bob}`]))).status).toBe(200);
    expect((await firstAnswer(sidecar.port, request("/by-header", [`${HEADER}: Bearer ${bob}`]))).status).toBe(200);
    for (const path of ["/by-cookie", "/by-header"]) {
      const seen = seenAt(path)!;
      expect(received(seen, "x-vigil-subject")).toEqual(["bob"]);
      expect(seen.rawHeaders.join("\n")).not.toContain(bob);
    }
    expect(received(seenAt("/by-cookie")!, "cookie")).toEqual([]);
  });

  it("passes the credentials on unchanged to a workload that asked for them", async () => {
    const answer = await firstAnswer(
      passing.port,
      request("/forwarded", [`Authorization: Bearer ${alice}`, `${HEADER}: ${alice}`, `X_Access_Token: ${bob}`, `Cookie: theme=dark; ${COOKIE}=${alice}`]),
    );
    expect(answer.status).toBe(200);
    const seen = seenAt("/forwarded")!;
    expect(received(seen, "authorization")).toEqual([`Bearer ${alice}`]);
    expect(received(seen, "x-access-token")).toEqual([alice]);
    expect(received(seen, "x_access_token")).toEqual([]); // another spelling is never the verified token
    expect(received(seen, "cookie")).toEqual([`theme=dark; ${COOKIE}=${alice}`]);
  });

  it("refuses ambiguous credentials on a workload that forwards them as well", async () => {
    const answer = await firstAnswer(passing.port, request("/forwarded-ambiguous", [`Authorization: Bearer ${alice}`, `Authorization: Bearer ${bob}`]));
    expect(answer.status).toBe(400);
    expect(seenAt("/forwarded-ambiguous")).toBeUndefined();
  });
});
