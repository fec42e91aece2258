/**
 * OpenID Connect Back-Channel Logout from a real identity provider: the `oidc-provider` package (a certified OpenID
 * Provider) runs in the test with its own signing key; a scripted login (authorization code flow through its
 * development interactions, the code exchanged for an ID token carrying the login's `sid`), then logout at the
 * provider (RP-initiated logout, confirmed). The provider POSTs its signed logout token to vigil-operator — a real
 * process serving the signals endpoint over HTTPS — which validates it and creates a real SessionTermination in the
 * real API server targeting that login session (idpSessionID + issuer, labelled with its source, cutoffTime = the
 * token's iat); the operator publishes it on the bus as a revocation. The namespace's sidecar is a real one (the
 * sidecar assembly the protection tests use, following the real operator's signed bus) holding a live session of the
 * user — their ID token from that login as the credential — with a WebSocket and a CONNECT tunnel open: it resets
 * both, refuses the token from then on, and acknowledges, so the termination completes with what it ended. The same
 * logout token delivered again is refused (jti replay, 400) and creates nothing.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import Provider from "oidc-provider";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { SIGNAL_LABEL, SIGNAL_SOURCE_LABEL } from "../../../operator/api/annotations.ts";
import type { SessionTermination } from "../../../operator/api/v1alpha1/index.ts";
import { idpSessionSelector } from "../../../operator/controller/termination-plan.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { Connections, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig, uniqueName } from "../operator/kube-support.ts";
import { applyVigilCrds, busRevocations, OperatorProcess, vigilObjects } from "../operator/operator-support.ts";
import { echo, openTunnel, startEchoServer, startUpstreamApp, type EchoServer, type UpstreamApp } from "../sidecar/proxy-harness.ts";
import { startRigSidecar, type ProtectedSidecar } from "./rig.ts";
import { writeServingCert } from "./signals-tls.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const objects = vigilObjects(kc);
const connections = new Connections(env.redisUrl);
const prefix = uniquePrefix();
const CLIENT_ID = "vigil";
const CLIENT_SECRET = randomBytes(16).toString("hex");
const REDIRECT = "http://127.0.0.1:9/callback"; // never followed: the test reads the code from the Location header

let redis: Redis;
let ns: string;
let operator: OperatorProcess;
let sidecar: ProtectedSidecar;
let app: UpstreamApp;
let tcp: EchoServer;
/** The session-encryption key the sidecar and the operator share. */
const sessionKey = randomBytes(32);
let idp: Server;
let issuer: string;
let signalsPort: number;
let tlsCert: string;
/** The logout tokens the provider sent (kept for the replay check; never logged). */
const delivered: { token: string; status: number }[] = [];
/** The provider's failed back-channel calls (its `backchannel.error` events). */
const backChannelErrors: string[] = [];

/** The provider's outgoing requests (its back-channel calls) to the operator's HTTPS endpoint, trusting its certificate. */
function fetchTrustingVigil(input: URL | string | Request, init: RequestInit = {}): Promise<Response> {
  const url = input instanceof Request ? input.url : input;
  const body = init.body instanceof URLSearchParams ? init.body.toString() : typeof init.body === "string" ? init.body : "";
  const token = new URLSearchParams(body).get("logout_token") ?? "";
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: init.method ?? "GET",
        ca: tlsCert,
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          delivered.push({ token, status: res.statusCode ?? 0 });
          resolve(new Response(null, { status: res.statusCode ?? 500 }));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function postLogoutToken(token: string): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams({ logout_token: token }).toString();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `https://127.0.0.1:${signalsPort}/oidc/backchannel-logout`,
      { method: "POST", ca: tlsCert, headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A browser for the scripted login: follows nothing by itself, keeps the provider's cookies. */
class Browser {
  readonly #jar = new Map<string, string>();

  async go(url: string, form?: Record<string, string>): Promise<Response> {
    const res = await fetch(new URL(url, issuer), {
      method: form === undefined ? "GET" : "POST",
      redirect: "manual",
      headers: {
        cookie: [...this.#jar].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
      },
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair?.indexOf("=") ?? -1;
      if (pair !== undefined && at > 0) this.#jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  }

  /** Follows redirects on the provider until one leaves it (the client's redirect URI) or asks for an interaction. */
  async follow(res: Response): Promise<Response> {
    let current = res;
    for (let hops = 0; hops < 10; hops += 1) {
      const location = current.headers.get("location");
      if (current.status < 300 || current.status >= 400 || location === null) return current;
      const next = new URL(location, issuer);
      if (next.origin !== new URL(issuer).origin || next.pathname.startsWith("/interaction/")) return current;
      current = await this.go(next.href);
    }
    throw new Error("too many redirects");
  }
}

/** Resolves when the WebSocket or socket has closed. */
const closed = (x: WebSocket | Socket): Promise<void> =>
  new Promise((resolve) => {
    if (x instanceof WebSocket ? x.readyState === WebSocket.CLOSED : x.destroyed) resolve();
    else
      x.once("close", () => {
        resolve();
      });
  });

const uidOf = (res: Response): string => {
  const m = /\/interaction\/([^/?]+)/u.exec(res.headers.get("location") ?? "");
  if (m?.[1] === undefined) throw new Error(`no interaction (status ${res.status})`);
  return m[1];
};

/** Logs `account` in at the provider as Vigil's client; returns the login session's `sid`, its ID token and the browser. */
async function login(account: string): Promise<{ sid: string; idToken: string; browser: Browser }> {
  const browser = new Browser();
  const auth = new URL("/auth", issuer);
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: "code",
    scope: "openid",
    redirect_uri: REDIRECT,
    state: "s",
    nonce: "n",
  }).toString();
  const toLogin = await browser.go(auth.href);
  const loginUid = uidOf(toLogin);
  expect((await browser.go(`/interaction/${loginUid}`)).status).toBe(200);
  const toConsent = await browser.follow(await browser.go(`/interaction/${loginUid}`, { prompt: "login", login: account, password: "any" }));
  const consentUid = uidOf(toConsent);
  const back = await browser.follow(await browser.go(`/interaction/${consentUid}`, { prompt: "consent" }));
  const code = new URL(back.headers.get("location") ?? "", issuer).searchParams.get("code");
  if (code === null) throw new Error(`no code (status ${back.status})`);
  const tokens = await fetch(new URL("/token", issuer), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }).toString(),
  });
  expect(tokens.status).toBe(200);
  const { id_token: idToken } = (await tokens.json()) as { id_token: string };
  const claims = JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub: string; sid?: string };
  expect(claims.sub).toBe(account);
  if (claims.sid === undefined) throw new Error("the ID token has no sid");
  return { sid: claims.sid, idToken, browser };
}

/** RP-initiated logout at the provider, confirmed by the user: the provider calls every client's back-channel URI. */
async function logout(browser: Browser): Promise<void> {
  const page = await browser.go("/session/end");
  expect(page.status).toBe(200);
  const xsrf = /name="xsrf" value="([^"]+)"/u.exec(await page.text())?.[1];
  if (xsrf === undefined) throw new Error("no logout form");
  const done = await browser.go("/session/end/confirm", { xsrf, logout: "yes" });
  expect(done.status).toBe(303);
}

async function signalTerminations(): Promise<SessionTermination[]> {
  return objects.listTerminations(ns, `${SIGNAL_SOURCE_LABEL}=backchannel-logout`);
}

beforeAll(async () => {
  await applyVigilCrds(env);
  ns = await createNamespace(env);
  redis = connections.raw();

  const idpPort = await freePort();
  issuer = `http://127.0.0.1:${idpPort}`;
  signalsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "vigil-signals-"));
  tlsCert = writeServingCert(dir);
  writeFileSync(
    join(dir, "signals.yaml"),
    JSON.stringify({ backChannelLogout: [{ issuer, audiences: [CLIENT_ID], algorithms: ["RS256"], jwksUri: `${issuer}/jwks` }] }),
  );

  const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        backchannel_logout_uri: `https://127.0.0.1:${signalsPort}/oidc/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
    ],
    jwks: { keys: [{ ...signingKey, kid: "idp-1", use: "sig", alg: "RS256" }] },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => false },
    findAccount: (_ctx, sub) => Promise.resolve({ accountId: sub, claims: () => ({ sub }) }),
    fetch: fetchTrustingVigil,
  });
  provider.on("backchannel.error", (_ctx: unknown, err: Error) => {
    backChannelErrors.push(err.message);
  });
  const handler = provider.callback();
  idp = createServer((req, res) => {
    void handler(req, res);
  });
  await new Promise<void>((resolve) => idp.listen(idpPort, "127.0.0.1", resolve));

  operator = await OperatorProcess.start(env, {
    redisUrl: env.redisUrl,
    prefix,
    namespace: ns,
    identity: uniqueName("op"),
    sessionKey,
    env: {
      VIGIL_SIGNALS_PORT: String(signalsPort),
      VIGIL_SIGNALS_HOST: "127.0.0.1",
      VIGIL_SIGNALS_CERT_DIR: dir,
      VIGIL_SIGNALS_CONFIG_FILE: join(dir, "signals.yaml"),
    },
  });
  await operator.waitUntilLeading();
  [app, tcp] = await Promise.all([startUpstreamApp(), startEchoServer()]);
  // The workload's policy: the IdP's users may use the app, its WebSocket and a tunnel to the TCP service.
  await objects.createPolicy(ns, "web", {
    selector: { matchLabels: { app: "web" } },
    rules: [{ name: "alice", action: "Allow", identities: [{ subject: "alice" }], requests: [{ paths: ["/*"] }, { methods: ["CONNECT"], ports: [tcp.port] }] }],
  });
  // A live sidecar in the namespace, trusting the provider's ID tokens (its JWKS): a logout must reach it.
  sidecar = await startRigSidecar({
    namespace: ns,
    pod: "web-0",
    labels: { app: "web" },
    redisUrl: env.redisUrl,
    prefix,
    upstreamPort: app.port,
    issuers: [{ issuer, audiences: [CLIENT_ID], algorithms: ["RS256"], jwksUri: `${issuer}/jwks` }],
    sessionKey,
  });
  await vi.waitFor(
    async () => {
      expect(await redis.hlen(`${prefix}sidecars`)).toBe(1);
    },
    { timeout: 10_000, interval: 50 },
  );
  await vi.waitFor(
    () => {
      expect(operator.lines.some((l) => l["event"] === "signals.started")).toBe(true);
      // The operator is ready as a deployment's would be: the bus is up and the sidecar enforces the policy.
      expect(sidecar.sidecar.view.selected.map((p) => p.name)).toEqual(["web"]);
    },
    { timeout: 20_000, interval: 50 },
  );
});

afterAll(async () => {
  await sidecar.stop();
  await objects.deletePolicy(ns, "web").catch(() => undefined);
  await operator.stop();
  await Promise.all([app.close(), tcp.close()]);
  await new Promise<void>((resolve) => {
    idp.closeAllConnections();
    idp.close(() => {
      resolve();
    });
  });
  await connections.closeAll();
});

describe("back-channel logout from a real OpenID Provider", () => {
  it("logout at the provider ends that login's live session on the sidecar: a SessionTermination for its sid, its WebSocket and tunnel reset, the token refused; a replay is refused", async () => {
    const { sid, idToken, browser } = await login("alice");
    // A live session of alice on the workload (the ID token as her credential), with two long-lived flows and no other
    // connection (a keep-alive HTTP connection of the session would be reset too, and counted).
    const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`, { headers: { authorization: `Bearer ${idToken}` } });
    ws.on("error", () => undefined);
    await once(ws, "open");
    ws.send("ping");
    expect(String((await once(ws, "message"))[0])).toBe("ping");
    const tunnel = await openTunnel(sidecar.port, tcp.port, idToken);
    expect(await echo(tunnel, "ping")).toBe("ping");
    const wsClosed = closed(ws);
    const tunnelClosed = closed(tunnel);

    const before = Date.now();
    await logout(browser);

    // The provider's call was answered 200 (the spec's success) ...
    expect({ statuses: delivered.map((d) => d.status), errors: backChannelErrors }).toEqual({ statuses: [200], errors: [] });
    // ... after a real SessionTermination was created for that login session at that issuer.
    const [termination] = await signalTerminations();
    expect(termination).toBeDefined();
    expect(termination?.spec.target).toEqual({ idpSessionID: sid, issuer });
    expect(termination?.metadata.labels).toMatchObject({ [SIGNAL_SOURCE_LABEL]: "backchannel-logout", [SIGNAL_LABEL]: "logout" });
    expect(termination?.spec.reason).toContain("back-channel logout");
    const cutoff = Date.parse(termination?.spec.cutoffTime ?? "");
    expect(cutoff).toBeLessThanOrEqual(Date.now());
    expect(cutoff).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);

    // The operator turns it into a revocation on the bus; the sidecar resets the session's flows, acknowledges, and
    // the termination completes with what it ended.
    await Promise.all([wsClosed, tunnelClosed]);
    const name = termination?.metadata.name ?? "";
    const done = await vi.waitFor(
      async () => {
        const t = await objects.getTermination(ns, name);
        if (t?.status?.phase !== "Completed") throw new Error(`phase ${t?.status?.phase ?? "none"}`);
        return t;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(done.status).toMatchObject({ phase: "Completed", sidecarsAcknowledged: 1, sessionsTerminated: 1, connectionsClosed: 2 });
    const revocations = [...(await busRevocations(redis, prefix, ns)).values()].map((e) => e.revocation);
    // The login session's selector: every Vigil session whose token carries that sid from that issuer (by session key).
    expect(revocations.map((r) => r.selector)).toContainEqual(idpSessionSelector(issuer, sid));

    // The token of the ended login is refused from now on, for requests and new flows alike.
    const after = await fetch(`http://127.0.0.1:${sidecar.port}/hello`, { headers: { authorization: `Bearer ${idToken}` } });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { code?: string }).code).toBe("SESSION_REVOKED");
    await expect(openTunnel(sidecar.port, tcp.port, idToken)).rejects.toThrow(/ 407 /u); // a tunnel is refused as a proxy: 407

    // The same logout token again: refused as a replay (400, the spec's error shape), nothing new created.
    const replay = await postLogoutToken(delivered[0]?.token ?? "");
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ error: "invalid_request" });
    expect((await signalTerminations()).length).toBe(1);
    expect(await operator.metrics()).toMatch(/vigil_operator_signal_requests_total\{receiver="backchannel-logout",result="replayed"\} 1/u);
  });

  it("a logout token not signed by the issuer's key, or one carrying a nonce, is refused with 400 and ends nothing", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { SignJWT } = await import("jose");
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer,
      aud: CLIENT_ID,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      sid: "forged-sid",
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    };
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "idp-1", typ: "logout+jwt" }).sign(privateKey);
    const refused = await postLogoutToken(forged);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "invalid_request" });
    const withNonce = await new SignJWT({ ...claims, jti: randomBytes(8).toString("hex"), nonce: "n" })
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .sign(privateKey);
    expect((await postLogoutToken(withNonce)).status).toBe(400);
    expect((await signalTerminations()).map((t) => t.spec.target)).not.toContainEqual(expect.objectContaining({ idpSessionID: "forged-sid" }));
  });
});
