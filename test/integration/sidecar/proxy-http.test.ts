import { once } from "node:events";
import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  collect,
  createIssuer,
  parseAnswer,
  policy,
  rawExchange,
  rule,
  startSidecar,
  startUpstreamApp,
  type Issuer,
  type SeenRequest,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Values of one header (all spellings: case and `_`/`-`) as the application received them. */
function headerValues(seen: SeenRequest, name: string): string[] {
  const canonical = (n: string): string => n.toLowerCase().replaceAll("_", "-");
  const out: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    if (canonical(seen.rawHeaders[i]!) === canonical(name)) out.push(seen.rawHeaders[i + 1]!);
  }
  return out;
}

describe("sidecar proxy: plain HTTP", () => {
  let app: UpstreamApp;
  let issuer: Issuer;
  let sidecar: Sidecar;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    app = await startUpstreamApp();
    issuer = await createIssuer();
    sidecar = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies: [policy("shop-access", rule("no-admin", "Deny", { paths: ["/admin*"] }), rule("staff", "Allow", { groups: ["staff"] }))],
    });
    alice = await issuer.token({ sub: "alice", sid: "a-1", email: "alice@example.test", groups: ["staff"] });
    bob = await issuer.token({ sub: "bob", sid: "b-1", groups: ["guests"] });
  });

  afterAll(async () => {
    await sidecar.close();
    await app.close();
  });

  const lastSeen = (): SeenRequest => app.seen[app.seen.length - 1]!;

  it("forwards an allowed request with the verified identity and the client IP", async () => {
    const answer = await get(sidecar.port, "/orders?x=1", { authorization: `Bearer ${alice}` });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true });
    expect(answer.headers["x-app"]).toBe("yes");
    expect(answer.headers["keep-alive"]).toBeUndefined(); // the app's hop-by-hop field stays on its hop
    const seen = lastSeen();
    expect(seen.url).toBe("/orders?x=1");
    expect(headerValues(seen, "x-vigil-subject")).toEqual(["alice"]);
    expect(headerValues(seen, "x-vigil-email")).toEqual(["alice@example.test"]);
    expect(headerValues(seen, "x-vigil-groups")).toEqual(["staff"]);
    expect(headerValues(seen, "x-vigil-session")[0]).toMatch(/^s_/);
    expect(headerValues(seen, "x-forwarded-for")).toEqual(["127.0.0.1"]);
  });

  it("forwards the normalised path the policy was evaluated on", async () => {
    const answer = await get(sidecar.port, "/a/%2e%2e//orders;jsessionid=1?q", { authorization: `Bearer ${alice}` });
    expect(answer.status).toBe(200);
    expect(lastSeen().url).toBe("/orders?q");
  });

  it("refuses a request without a token with 401 JSON and a Bearer challenge; the app sees nothing", async () => {
    const before = app.seen.length;
    const answer = await get(sidecar.port, "/orders");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe("Bearer");
    expect(answer.headers["content-type"]).toBe("application/json");
    expect(answer.body).toMatchObject({ code: "TOKEN_MISSING" });
    expect(app.seen.length).toBe(before);
  });

  it("refuses a token signed by an untrusted key with 401 invalid_token", async () => {
    const before = app.seen.length;
    const forged = await issuer.foreignToken({ sub: "alice", sid: "a-1" });
    const answer = await get(sidecar.port, "/orders", { authorization: `Bearer ${forged}` });
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    expect((answer.body as { code: string }).code).toMatch(/^TOKEN_/);
    expect(JSON.stringify(answer.body)).not.toContain(forged.split(".")[2]!);
    expect(app.seen.length).toBe(before);
  });

  it("refuses with 403 and names the rule when a deny rule matches", async () => {
    const answer = await get(sidecar.port, "/admin/users", { authorization: `Bearer ${alice}` });
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: "DENIED_BY_RULE", rule: "no-admin", policy: "shop/shop-access" });
  });

  it("refuses with 403 NO_MATCHING_RULE when no allow rule covers the identity", async () => {
    const before = app.seen.length;
    const answer = await get(sidecar.port, "/orders", { authorization: `Bearer ${bob}` });
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: "NO_MATCHING_RULE" });
    expect(app.seen.length).toBe(before);
  });

  const spoofed = [
    "X-Vigil-Subject: mallory",
    "x-vigil-subject: mallory2",
    "X_Vigil_Subject: mallory3",
    "X-VIGIL-GROUPS: admins",
    "X-Vigil-Session: s_forged",
    "X-Forwarded-User: mallory",
    "x_forwarded_user: mallory",
    "X-FORWARDED-USER: mallory",
    "X-Forwarded-Email: m@evil.test",
    "X-Forwarded-For: 6.6.6.6",
    "x_forwarded_for: 6.6.6.7",
    "Forwarded: for=6.6.6.8",
    "Proxy-Authorization: Bearer something",
    "Connection: keep-alive, X-Vigil-Subject, X-Custom-Hop",
    "X-Custom-Hop: 1",
    "Keep-Alive: timeout=5",
    "TE: trailers",
    "Trailer: X-Checksum",
  ];

  function expectOnlyVerifiedIdentity(seen: SeenRequest): void {
    expect(headerValues(seen, "x-vigil-subject")).toEqual(["alice"]);
    expect(headerValues(seen, "x-vigil-groups")).toEqual(["staff"]);
    expect(headerValues(seen, "x-vigil-session")).toHaveLength(1);
    expect(headerValues(seen, "x-vigil-session")[0]).not.toBe("s_forged");
    expect(headerValues(seen, "x-forwarded-user")).toEqual([]);
    expect(headerValues(seen, "x-forwarded-email")).toEqual([]);
    expect(headerValues(seen, "x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(headerValues(seen, "forwarded")).toEqual([]);
    for (const hop of ["proxy-authorization", "x-custom-hop", "keep-alive", "te", "trailer", "expect"]) {
      expect(headerValues(seen, hop), hop).toEqual([]);
    }
  }

  it("never lets spoofed identity or hop-by-hop headers reach the app (all spellings)", async () => {
    const head = ["POST /orders HTTP/1.1", "Host: shop.test", `Authorization: Bearer ${alice}`, ...spoofed, "Content-Length: 5"];
    const exchange = await rawExchange(sidecar.port, `${head.join("\r\n")}\r\n\r\nhello`, 1_000);
    expect(parseAnswer(exchange.text).status).toBe(200);
    const seen = lastSeen();
    expect(seen.body).toBe("hello");
    expectOnlyVerifiedIdentity(seen);
  });

  it("does the same with Expect: 100-continue (http-proxy skips proxyReq then)", async () => {
    const head = ["PUT /orders HTTP/1.1", "Host: shop.test", `Authorization: Bearer ${alice}`, ...spoofed, "Expect: 100-continue", "Content-Length: 5"];
    const socket = connect(sidecar.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    const [interim] = (await once(socket, "data")) as [Buffer];
    expect(interim.toString()).toMatch(/^HTTP\/1\.1 100 Continue/);
    const answer = collect(socket, 1_000);
    socket.write("hello");
    expect(parseAnswer((await answer).text).status).toBe(200);
    const seen = lastSeen();
    expect(seen.method).toBe("PUT");
    expect(seen.body).toBe("hello");
    expectOnlyVerifiedIdentity(seen);
  });

  it("refuses Expect: 100-continue without a token before the body is sent", async () => {
    const before = app.seen.length;
    const exchange = await rawExchange(sidecar.port, "POST /orders HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 1_000);
    const answer = parseAnswer(exchange.text);
    expect(answer.status).toBe(401);
    expect(exchange.text).not.toContain("100 Continue");
    expect(exchange.closed).toBe(true);
    expect(app.seen.length).toBe(before);
  });
});

describe("sidecar proxy: upstream failures", () => {
  it("answers 502 UPSTREAM_UNAVAILABLE when the application is down", async () => {
    const issuer = await createIssuer();
    const app = await startUpstreamApp();
    const port = app.port;
    await app.close(); // nothing listens there any more
    const sidecar = await startSidecar({ issuer, upstreamPort: port, policies: [policy("p", rule("all", "Allow"))] });
    try {
      const token = await issuer.token({ sub: "alice", sid: "a-1" });
      const answer = await get(sidecar.port, "/orders", { authorization: `Bearer ${token}` });
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    } finally {
      await sidecar.close();
    }
  });

  it("answers 504 UPSTREAM_TIMEOUT when the application does not answer in time", async () => {
    const issuer = await createIssuer();
    const app = await startUpstreamApp();
    const sidecar = await startSidecar({ issuer, upstreamPort: app.port, policies: [policy("p", rule("all", "Allow"))], timeouts: { upstreamMs: 300 } });
    try {
      const token = await issuer.token({ sub: "alice", sid: "a-1" });
      const answer = await get(sidecar.port, "/slow", { authorization: `Bearer ${token}` });
      expect(answer.status).toBe(504);
      expect(answer.body).toMatchObject({ code: "UPSTREAM_TIMEOUT" });
    } finally {
      await sidecar.close();
      await app.close();
    }
  });
});
