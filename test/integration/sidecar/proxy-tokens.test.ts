/**
 * Token defects found in acceptance testing (issue 8), on real sockets: the real verifier behind the sidecar, tokens
 * genuinely signed by the trusted key, an application and a TCP service that must never see a refused flow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createIssuer,
  firstAnswer,
  policy,
  rule,
  startEchoServer,
  startSidecar,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

describe("sidecar proxy: tokens that must never get in", () => {
  let app: UpstreamApp;
  let tcp: EchoServer;
  let issuer: Issuer;
  let sidecar: Sidecar;

  beforeAll(async () => {
    [app, tcp, issuer] = await Promise.all([startUpstreamApp(), startEchoServer(), createIssuer()]);
    // One allow-everything rule: whatever is refused below is refused for the token, not by policy.
    sidecar = await startSidecar({ issuer, upstreamPort: app.port, policies: [policy("open", rule("anyone", "Allow"))] });
  });

  afterAll(async () => {
    await sidecar.close();
    await Promise.all([app.close(), tcp.close()]);
  });

  type Answer = Awaited<ReturnType<typeof firstAnswer>>;

  /** Sends the token on a plain request, a WebSocket handshake and a CONNECT; returns the three answers. */
  async function everyWay(token: string): Promise<{ http: Answer; websocket: Answer; tunnel: Answer }> {
    const http = await firstAnswer(sidecar.port, `GET /orders HTTP/1.1\r\nHost: shop.test\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    const websocket = await firstAnswer(
      sidecar.port,
      `GET /ws HTTP/1.1\r\nHost: shop.test\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    const tunnel = await firstAnswer(
      sidecar.port,
      `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`,
    );
    return { http, websocket, tunnel };
  }

  /** The payload JSON text of a normal token with one claim's literal replaced (e.g. by 1e400). */
  const withLiteral = (claim: string, literal: string): string =>
    JSON.stringify(issuer.claims({ sub: "alice", sid: `${claim}-${literal}`, [claim]: 0 })).replace(`"${claim}":0`, `"${claim}":${literal}`);

  it("admits the control token every way (HTTP, WebSocket, CONNECT)", async () => {
    const answers = await everyWay(issuer.signedText(JSON.stringify(issuer.claims({ sub: "alice", sid: "control" }))));
    expect(answers.http.status).toBe(200);
    expect(answers.websocket.status).toBe(101);
    expect(answers.tunnel.status).toBe(200);
  });

  it.each([
    ["exp", "1e400"],
    ["iat", "-1e400"],
    ["nbf", "-1e400"],
  ])("refuses %s = %s (a NumericDate that parses to ±Infinity) on HTTP, WebSocket and CONNECT; nothing reaches the app", async (claim, literal) => {
    const [seen, upgrades, dialled] = [app.seen.length, app.upgrades.length, tcp.accepted()];
    const { http, websocket, tunnel } = await everyWay(issuer.signedText(withLiteral(claim, literal)));
    expect([http.status, websocket.status, tunnel.status]).toEqual([401, 401, 407]);
    for (const answer of [http, websocket, tunnel])
      expect(answer.body).toMatchObject({ code: "TOKEN_INVALID", message: `The token's "${claim}" claim is not a finite NumericDate.` });
    expect(app.seen.length).toBe(seen);
    expect(app.upgrades.length).toBe(upgrades);
    expect(tcp.accepted()).toBe(dialled);
  });

  it.each(["logout+jwt", "secevent+jwt"])("refuses a %s token (signed by the trusted issuer, right audience) every way", async (typ) => {
    const [seen, upgrades, dialled] = [app.seen.length, app.upgrades.length, tcp.accepted()];
    const payload = JSON.stringify(issuer.claims({ sub: "alice", sid: `typ-${typ}`, events: { "http://schemas.openid.net/event/backchannel-logout": {} } }));
    const { http, websocket, tunnel } = await everyWay(issuer.signedText(payload, { alg: "ES256", kid: "k1", typ }));
    expect([http.status, websocket.status, tunnel.status]).toEqual([401, 401, 407]);
    for (const answer of [http, websocket, tunnel]) expect(answer.body).toMatchObject({ code: "TOKEN_WRONG_TYPE" });
    expect(app.seen.length).toBe(seen);
    expect(app.upgrades.length).toBe(upgrades);
    expect(tcp.accepted()).toBe(dialled);
  });

  it("admits an RFC 9068 access token (typ at+jwt)", async () => {
    const payload = JSON.stringify(issuer.claims({ sub: "alice", sid: "at" }));
    const { http, tunnel } = await everyWay(issuer.signedText(payload, { alg: "ES256", kid: "k1", typ: "at+jwt" }));
    expect([http.status, tunnel.status]).toEqual([200, 200]);
  });

  it("refuses a token valid for longer than 24 h (the default maximum lifetime) every way", async () => {
    const iat = Math.floor(Date.now() / 1000);
    const [seen, dialled] = [app.seen.length, tcp.accepted()];
    const { http, websocket, tunnel } = await everyWay(
      issuer.signedText(JSON.stringify(issuer.claims({ sub: "alice", sid: "long", iat, exp: iat + 86_400 + 1 }))),
    );
    expect([http.status, websocket.status, tunnel.status]).toEqual([401, 401, 407]);
    for (const answer of [http, websocket, tunnel]) expect(answer.body).toMatchObject({ code: "TOKEN_LIFETIME_TOO_LONG" });
    expect(app.seen.length).toBe(seen);
    expect(tcp.accepted()).toBe(dialled);
  });
});
