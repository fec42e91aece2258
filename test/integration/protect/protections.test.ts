/**
 * Session protections through a real sidecar (the real assembly, in-process for the clock and the findings; real
 * Redis, a real signed bus, real sockets, real JWTs, the MaxMind test databases): network binding (/24, /64),
 * device binding (browser family, a minor update that must not trip, client certificate from a trusted ingress
 * header), impossible travel with a controllable clock (IPv4, IPv4-mapped), new-country events, locations, and
 * concurrent-session limits. Audit records the finding and lets the request through; Enforce refuses with the
 * stable code, ends the session (its next request is refused too), resets its WebSocket and tunnel, and asks the
 * operator to end it everywhere (an entry in `P end-requests`). Every finding travels the real path — the sidecar's
 * audit event (`protection.*`, sealed into `P audit` in real Redis), read by the operator's own ingest into a real
 * SessionIndex — and is asserted in all three places a person finds it: the audit trail itself (the stream's
 * event, with its evidence), the session in the sessions API (`findings`, with its evidence) and the audit listing
 * of `kubectl vigil audit` (the session's `recentEvents`: the finding's code and its evidence in one line).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { STREAM_MESSAGE_FIELD } from "../../../operator/api/bus/keys.ts";
import { FINDING_EVENTS, findingOfEvent, isFindingEvent } from "../../../operator/api/audit/findings.ts";
import { describeFinding } from "../../../operator/api/protections/describe.ts";
import type { SessionFinding } from "../../../operator/api/protections/findings.ts";
import { eventsOfSessions } from "../../../cli/core/audit.ts";
import { PrivateRedis } from "../bus/support.ts";
import { createIssuer, echo, startEchoServer, startUpstreamApp, type EchoServer, type Issuer, type UpstreamApp } from "../sidecar/proxy-harness.ts";
import { CERT_HEADER, NS, protectedPolicy, startAuditPath, startBus, startProtectedSidecar, type AuditPath, type Bus, type ProtectedSidecar } from "./rig.ts";

const chrome = (v: string) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Safari/537.36`;
const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0";
const CERT_A = "a".repeat(64);
const CERT_B = "b".repeat(64);
const HOUR = 3_600_000;
const DEVICE = ["Browser", "OperatingSystem", "Platform", "AcceptLanguage", "ClientCertificate"] as const;

interface Client {
  ip: string;
  ua?: string;
  cert?: string;
}

describe("session protections on a real sidecar", () => {
  const redisServer = new PrivateRedis();
  let bus: Bus;
  let issuer: Issuer;
  let app: UpstreamApp;
  let tcp: EchoServer;
  let offset = 0;
  let audit: AuditPath;
  const sidecars: Record<string, ProtectedSidecar> = {};
  const index = () => audit.index;

  beforeAll(async () => {
    await redisServer.start();
    [issuer, app, tcp] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
    const everything = (mode: "Audit" | "Enforce") => ({
      networkBinding: { mode },
      deviceBinding: { mode, components: [...DEVICE] },
      impossibleTravel: { mode },
    });
    bus = await startBus(redisServer.url, [
      protectedPolicy("audit", everything("Audit"), tcp.port),
      protectedPolicy("enforce", everything("Enforce"), tcp.port),
      protectedPolicy("oldest", { concurrentSessions: { mode: "Enforce", maxConcurrentSessions: 2, onExceed: "EndOldest" } }, tcp.port),
      protectedPolicy("refuse", { concurrentSessions: { mode: "Enforce", maxConcurrentSessions: 1, onExceed: "RefuseNew" } }, tcp.port),
    ]);
    const sessionKey = randomBytes(32);
    audit = startAuditPath({ redisUrl: redisServer.url, prefix: bus.prefix, sessionKey, publisher: bus.publisher });
    for (const name of ["audit", "enforce", "oldest", "refuse"]) {
      sidecars[name] = await startProtectedSidecar({
        redisUrl: redisServer.url,
        prefix: bus.prefix,
        pod: `${name}-0`,
        app: name,
        upstreamPort: app.port,
        issuer,
        sessionKey,
        clock: () => Date.now() + offset,
      });
    }
    await vi.waitFor(
      () => {
        for (const s of Object.values(sidecars)) if (s.sidecar.view.selected.length !== 1) throw new Error("policy not applied yet");
      },
      { timeout: 15_000, interval: 50 },
    );
  });

  afterAll(async () => {
    for (const s of Object.values(sidecars)) await s.stop();
    await audit.stop();
    await bus.stop();
    await Promise.all([app.close(), tcp.close()]);
    await redisServer.stop();
  });

  const tokenFor = (sub: string, sid = `${sub}-${randomBytes(3).toString("hex")}`) =>
    issuer.token({ sub, sid, email: `${sub}@example.test`, groups: ["staff"] });
  const headers = (token: string, c: Client): Record<string, string> => ({
    authorization: `Bearer ${token}`,
    "x-forwarded-for": c.ip,
    "user-agent": c.ua ?? chrome("140.0.7339.81"),
    "accept-language": "en-GB,en;q=0.9",
    ...(c.cert === undefined ? {} : { [CERT_HEADER]: c.cert }),
  });

  /**
   * One request; then the barrier: what the sidecars reported is in the stream and the operator's ingest applied it
   * (so a finding that is not there was not reported). On 200 the session is in the sessions API, from the stream.
   */
  async function request(sidecar: string, token: string, c: Client): Promise<{ status: number; code?: string; session?: string }> {
    const s = sidecars[sidecar]!;
    const res = await fetch(`http://127.0.0.1:${s.port}/hello`, { headers: headers(token, c) });
    const body = (await res.json()) as { code?: string };
    await audit.settle(Object.values(sidecars).map((x) => x.sidecar));
    if (res.status !== 200) return { status: res.status, ...(body.code === undefined ? {} : { code: body.code }) };
    const seen = app.seen.at(-1)!;
    const session = seen.rawHeaders[seen.rawHeaders.findIndex((h) => h.toLowerCase() === "x-vigil-session") + 1]!;
    expect(
      index()
        .get(NS, session)
        ?.workloads.map((w) => w.pod),
    ).toContain(`${sidecar}-0`);
    return { status: 200, session };
  }

  async function openWebSocket(sidecar: string, token: string, c: Client): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${sidecars[sidecar]!.port}/ws`, { headers: headers(token, c) });
    ws.on("error", () => undefined);
    await once(ws, "open");
    return ws;
  }

  async function openTunnel(sidecar: string, token: string, c: Client): Promise<Socket> {
    const socket = connect(sidecars[sidecar]!.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await once(socket, "connect");
    const h = headers(token, c);
    socket.write(
      `CONNECT 127.0.0.1:${tcp.port} HTTP/1.1\r\nHost: 127.0.0.1:${tcp.port}\r\nProxy-Authorization: ${h["authorization"]}\r\nX-Forwarded-For: ${c.ip}\r\nUser-Agent: ${h["user-agent"]}\r\nAccept-Language: ${h["accept-language"]}\r\n${c.cert === undefined ? "" : `${CERT_HEADER}: ${c.cert}\r\n`}\r\n`,
    );
    const [first] = (await once(socket, "data")) as [Buffer];
    if (!first.toString("latin1").startsWith("HTTP/1.1 200")) throw new Error(`tunnel refused: ${first.toString("latin1").split("\r\n")[0] ?? ""}`);
    expect(await echo(socket, "ping")).toBe("ping");
    return socket;
  }

  const closed = (x: WebSocket | Socket) =>
    new Promise<void>((resolve) => {
      if (x instanceof WebSocket ? x.readyState === WebSocket.CLOSED : x.destroyed) resolve();
      else
        x.once("close", () => {
          resolve();
        });
    });
  /**
   * Every finding the audit trail holds (the stream's `protection.*` events, each entry opened as the operator
   * does), after checking that each is where a person looks for it: on its session in the sessions API with the
   * same evidence, and in the audit listing of `kubectl vigil audit` with its code and its evidence in one line.
   */
  async function allFindings(): Promise<SessionFinding[]> {
    await audit.settle(Object.values(sidecars).map((x) => x.sidecar));
    const events = (await audit.events()).filter(isFindingEvent);
    for (const e of events) {
      const f = findingOfEvent(e);
      expect([e.event, e.code]).toEqual([FINDING_EVENTS[f.code].event, FINDING_EVENTS[f.code].code]);
      expect(e.outcome).toBe(f.outcome === "refused" ? "failure" : "success");
      const session = index().get(NS, f.sessionId);
      expect(session?.findings, `${f.code} on the session`).toContainEqual({
        time: new Date(f.time).toISOString(),
        code: f.code,
        mode: f.mode,
        outcome: f.outcome,
        pod: f.pod,
        ...(f.policy === undefined ? {} : { policy: f.policy }),
        evidence: f.evidence,
      });
      expect(eventsOfSessions(session === undefined ? [] : [session]), `${f.code} in the audit listing`).toContainEqual(
        expect.objectContaining({ code: e.code, type: e.event, session: f.sessionId, pod: f.pod, reason: describeFinding(f), source: "session" }),
      );
    }
    return events.map(findingOfEvent);
  }
  const findingsOf = async (session: string) => (await allFindings()).filter((f) => f.sessionId === session);
  const apiFindings = (sidecar: string, session: string) =>
    index()
      .get(NS, session)
      ?.findings.filter((f) => f.pod === `${sidecar}-0`) ?? [];

  describe("Audit: the finding is recorded, the request goes through", () => {
    it("another /24: SESSION_NETWORK_CHANGED with both networks, shown on the session in the sessions API", async () => {
      const token = await tokenFor("ann");
      const first = await request("audit", token, { ip: "203.0.113.7" });
      expect(first.status).toBe(200);
      expect((await request("audit", token, { ip: "203.0.113.200" })).status).toBe(200); // same /24
      expect(await findingsOf(first.session!)).toEqual([]);
      expect((await request("audit", token, { ip: "198.51.100.7" })).status).toBe(200);
      expect(await findingsOf(first.session!)).toEqual([
        expect.objectContaining({
          code: "SESSION_NETWORK_CHANGED",
          mode: "Audit",
          outcome: "recorded",
          policy: "shop/audit",
          evidence: { kind: "network", granularity: "Prefix", bound: "203.0.113.0/24", observed: "198.51.100.0/24" },
        }),
      ]);
      expect(apiFindings("audit", first.session!)).toEqual([
        expect.objectContaining({
          code: "SESSION_NETWORK_CHANGED",
          mode: "Audit",
          outcome: "recorded",
          evidence: { kind: "network", granularity: "Prefix", bound: "203.0.113.0/24", observed: "198.51.100.0/24" },
        }),
      ]);
    });

    it("another /64: recorded; another address in the same /64 is not", async () => {
      const token = await tokenFor("ben");
      const first = await request("audit", token, { ip: "2001:db8:1:2::7" });
      expect((await request("audit", token, { ip: "2001:db8:1:2:ffff::1" })).status).toBe(200);
      expect(await findingsOf(first.session!)).toEqual([]);
      expect((await request("audit", token, { ip: "2001:db8:1:3::7" })).status).toBe(200);
      expect((await findingsOf(first.session!)).map((f) => f.evidence)).toEqual([
        { kind: "network", granularity: "Prefix", bound: "2001:db8:1:2::/64", observed: "2001:db8:1:3::/64" },
      ]);
    });

    it("a minor browser update does not trip device binding; another browser family does, naming what changed", async () => {
      const token = await tokenFor("cat");
      const first = await request("audit", token, { ip: "203.0.113.8", ua: chrome("140.0.7339.81") });
      expect((await request("audit", token, { ip: "203.0.113.8", ua: chrome("140.0.7400.2") })).status).toBe(200);
      expect(await findingsOf(first.session!)).toEqual([]);
      expect((await request("audit", token, { ip: "203.0.113.8", ua: FIREFOX })).status).toBe(200);
      expect(await findingsOf(first.session!)).toEqual([
        expect.objectContaining({
          code: "SESSION_DEVICE_CHANGED",
          evidence: {
            kind: "device",
            changed: [
              { component: "Browser", bound: "Chrome 140", observed: "Firefox 141" },
              { component: "OperatingSystem", bound: "macOS", observed: "Windows" },
            ],
          },
        }),
      ]);
      expect(apiFindings("audit", first.session!).map((f) => f.code)).toEqual(["SESSION_DEVICE_CHANGED"]);
    });

    it("another client certificate from the trusted ingress header is recorded", async () => {
      const token = await tokenFor("dan");
      const first = await request("audit", token, { ip: "203.0.113.9", cert: CERT_A });
      expect((await request("audit", token, { ip: "203.0.113.9", cert: CERT_B })).status).toBe(200);
      expect((await findingsOf(first.session!)).map((f) => f.evidence)).toEqual([
        { kind: "device", changed: [{ component: "ClientCertificate", bound: CERT_A, observed: CERT_B }] },
      ]);
    });
  });

  describe("Enforce: refused with the code, the session ended, its WebSocket and tunnel reset", () => {
    async function expectEnded(token: string, session: string, change: Client, code: string, original: Client) {
      const ws = await openWebSocket("enforce", token, original);
      const tunnel = await openTunnel("enforce", token, original);
      const refused = await request("enforce", token, change);
      expect(refused).toEqual({ status: 401, code });
      await Promise.all([closed(ws), closed(tunnel)]);
      // The session is over, even from where it started.
      expect(await request("enforce", token, original)).toEqual({ status: 401, code });
      expect(await findingsOf(session)).toEqual([expect.objectContaining({ code, mode: "Enforce", outcome: "refused", policy: "shop/enforce" })]);
      expect(apiFindings("enforce", session)).toEqual([expect.objectContaining({ code, mode: "Enforce", outcome: "refused" })]);
      // The operator is asked to end it on every other sidecar.
      const requests = (await bus.redis.xrange(`${bus.prefix}end-requests`, "-", "+")).map(
        ([, fields]) => JSON.parse(fields[fields.indexOf(STREAM_MESSAGE_FIELD) + 1]!) as { sessionId: string; code: string },
      );
      expect(requests).toContainEqual(expect.objectContaining({ sessionId: session, code, namespace: NS, pod: "enforce-0" }));
    }

    it("another /24", async () => {
      const token = await tokenFor("eve");
      const original = { ip: "203.0.113.10" };
      const { session } = await request("enforce", token, original);
      await expectEnded(token, session!, { ip: "198.51.100.10" }, "SESSION_NETWORK_CHANGED", original);
    });

    it("another /64", async () => {
      const token = await tokenFor("fay");
      const original = { ip: "2001:db8:5:6::1" };
      const { session } = await request("enforce", token, original);
      await expectEnded(token, session!, { ip: "2001:db8:5:7::1" }, "SESSION_NETWORK_CHANGED", original);
    });

    it("another browser family (a minor update first goes through)", async () => {
      const token = await tokenFor("gus");
      const original = { ip: "203.0.113.11", ua: chrome("140.0.7339.81") };
      const { session } = await request("enforce", token, original);
      expect((await request("enforce", token, { ...original, ua: chrome("140.1.0.0") })).status).toBe(200);
      await expectEnded(token, session!, { ...original, ua: FIREFOX }, "SESSION_DEVICE_CHANGED", original);
    });

    it("another client certificate", async () => {
      const token = await tokenFor("hal");
      const original = { ip: "203.0.113.12", cert: CERT_A };
      const { session } = await request("enforce", token, original);
      await expectEnded(token, session!, { ...original, cert: CERT_B }, "SESSION_DEVICE_CHANGED", original);
    });
  });

  describe("impossible travel (the MaxMind test City database, a controllable clock)", () => {
    it("Singapore, then Melbourne an hour later: refused with the evidence; a new country is an audit event; sessions show where they are", async () => {
      offset = 0;
      const singapore = await request("enforce", await tokenFor("ivy", "ivy-1"), { ip: "214.0.0.7" });
      expect(singapore.status).toBe(200);
      expect(index().get(NS, singapore.session!)?.location).toMatchObject({ country: "SG", city: "Singapore" });
      offset = HOUR;
      const melbourneToken = await tokenFor("ivy", "ivy-2");
      const refused = await request("enforce", melbourneToken, { ip: "::ffff:214.0.1.9" }); // IPv4-mapped
      expect(refused).toEqual({ status: 401, code: "SESSION_IMPOSSIBLE_TRAVEL" });
      const found = await allFindings();
      const travel = found.find((f) => f.code === "SESSION_IMPOSSIBLE_TRAVEL" && f.evidence.kind === "travel" && f.evidence.to.city === "Melbourne")!;
      expect(travel).toMatchObject({
        mode: "Enforce",
        outcome: "refused",
        evidence: {
          kind: "travel",
          from: { country: "SG", city: "Singapore", accuracyRadiusKm: 10 },
          to: { country: "AU", city: "Melbourne", accuracyRadiusKm: 20 },
          maxSpeedKmh: 1000,
        },
      });
      if (travel.evidence.kind !== "travel") throw new Error("unreachable");
      expect(travel.evidence.distanceKm).toBeGreaterThan(6000);
      expect(travel.evidence.effectiveDistanceKm).toBeCloseTo(travel.evidence.distanceKm - 30, 0);
      expect(travel.evidence.elapsedSeconds).toBeGreaterThanOrEqual(3599);
      expect(travel.evidence.speedKmh).toBeGreaterThan(5000);
      expect(found.filter((f) => f.sessionId === travel.sessionId && f.code === "SESSION_NEW_COUNTRY").map((f) => f.evidence)).toEqual([
        { kind: "newCountry", country: "AU", knownCountries: ["SG"] },
      ]);
      // A day later the flight is over: a new login from Melbourne is fine.
      offset = 25 * HOUR;
      const later = await request("enforce", await tokenFor("ivy", "ivy-3"), { ip: "214.0.1.10" });
      expect(later.status).toBe(200);
      expect(index().get(NS, later.session!)?.location).toMatchObject({ country: "AU", city: "Melbourne" });
      offset = 0;
    });

    it("Audit records the same travel and lets it through", async () => {
      offset = 0;
      expect((await request("audit", await tokenFor("jo", "jo-1"), { ip: "214.0.0.20" })).status).toBe(200);
      offset = HOUR;
      const melbourne = await request("audit", await tokenFor("jo", "jo-2"), { ip: "214.0.1.20" });
      offset = 0;
      expect(melbourne.status).toBe(200);
      expect(apiFindings("audit", melbourne.session!).map((f) => [f.code, f.outcome])).toEqual([
        ["SESSION_NEW_COUNTRY", "recorded"],
        ["SESSION_IMPOSSIBLE_TRAVEL", "recorded"],
      ]);
    });
  });

  describe("concurrent sessions", () => {
    it("EndOldest: a third live session ends the oldest (its tunnel reset, its next request refused); the new one is admitted", async () => {
      const client = { ip: "203.0.113.30" };
      const t1 = await tokenFor("kim", "kim-1");
      const s1 = await request("oldest", t1, client);
      const tunnel = await openTunnel("oldest", t1, client);
      expect((await request("oldest", await tokenFor("kim", "kim-2"), client)).status).toBe(200);
      const t3 = await tokenFor("kim", "kim-3");
      const s3 = await request("oldest", t3, client);
      expect(s3.status).toBe(200);
      await closed(tunnel);
      expect(await request("oldest", t1, client)).toEqual({ status: 403, code: "SESSION_LIMIT_EXCEEDED" });
      expect((await request("oldest", t3, client)).status).toBe(200);
      expect(apiFindings("oldest", s3.session!)).toEqual([
        expect.objectContaining({ code: "SESSION_LIMIT_EXCEEDED", evidence: { kind: "limit", limit: 2, live: 3, onExceed: "EndOldest", ended: [s1.session] } }),
      ]);
    });

    it("RefuseNew: the session over the limit is refused with 403", async () => {
      const client = { ip: "203.0.113.31" };
      expect((await request("refuse", await tokenFor("lou", "lou-1"), client)).status).toBe(200);
      expect(await request("refuse", await tokenFor("lou", "lou-2"), client)).toEqual({ status: 403, code: "SESSION_LIMIT_EXCEEDED" });
      const refusals = (await allFindings()).filter((f) => f.code === "SESSION_LIMIT_EXCEEDED" && f.pod === "refuse-0");
      expect(refusals.map((f) => f.outcome)).toEqual(["refused"]);
      expect(refusals[0]?.evidence).toMatchObject({ kind: "limit", limit: 1, live: 2, onExceed: "RefuseNew" });
    });
  });
});
