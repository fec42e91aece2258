/**
 * OpenID Shared Signals Framework 1.0 / CAEP 1.0 from a transmitter written in the test to the specs
 * (ssf-transmitter.ts: discovery, JWKS, stream management, verification, RFC 8935 push and RFC 8936 poll, SETs
 * signed with a real ES256 key) to vigil-operator as a real process (the signals endpoint over HTTPS, the leader's
 * stream keepers), with the real API server, real Redis and a sidecar stand-in speaking the real bus contract.
 *
 * Proves: streams are created, read and verified as SSF describes and their health shows in metrics; each CAEP
 * event ends what it must as a real SessionTermination labelled with its source and signal (published on the bus,
 * acknowledged, completed), or is only recorded; the revocation carries the event's time as its cutoff, so a login
 * after the event is not covered; poll delivery acknowledges with `maxEvents` / `moreAvailable`; and every SET of
 * the attack corpus is refused 400 with its RFC 8935 error code, counted, creates nothing, and the endpoint keeps
 * serving.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SIGNAL_LABEL, SIGNAL_SOURCE_LABEL } from "../../../operator/api/annotations.ts";
import { covers } from "../../../operator/api/bus/coverage.ts";
import { sessionKeyOf } from "../../../operator/api/session-key.ts";
import type { SessionTermination, TerminationTarget } from "../../../operator/api/v1alpha1/index.ts";
import { idpSessionSelector } from "../../../operator/controller/termination-plan.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { Connections, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig, uniqueName } from "../operator/kube-support.ts";
import { applyVigilCrds, busRevocations, OperatorProcess, StandIn, vigilObjects } from "../operator/operator-support.ts";
import { writeServingCert } from "./signals-tls.ts";
import { CAEP, POLL, PUSH, SsfTransmitter } from "./ssf-transmitter.ts";

const env = clusterEnv();
const objects = vigilObjects(kubeConfig(env));
const connections = new Connections(env.redisUrl);
const prefix = uniquePrefix();
const AUDIENCE = "https://vigil.example/ssf";
const USERS = "https://login.example.com"; // the users' token issuer (subjectIssuer)
const MANAGEMENT_TOKEN = randomBytes(16).toString("hex");
const PUSH_TOKEN = randomBytes(16).toString("hex");
const CAEP_REQUESTED = ["session-revoked", "credential-change", "device-compliance-change", "assurance-level-change"].map(
  (e) => `https://schemas.openid.net/secevent/caep/event-type/${e}`,
);

let redis: Redis;
let ns: string;
let operator: OperatorProcess;
let standIn: StandIn;
let tx: SsfTransmitter;
let signalsPort: number;

async function ssfTerminations(): Promise<SessionTermination[]> {
  return objects.listTerminations(ns, `${SIGNAL_SOURCE_LABEL}=ssf`);
}

async function terminationFor(target: TerminationTarget): Promise<SessionTermination> {
  return vi.waitFor(
    async () => {
      const found = (await ssfTerminations()).find((t) => isDeepStrictEqual(t.spec.target, target));
      if (found === undefined) throw new Error(`no SessionTermination for ${JSON.stringify(target)}`);
      return found;
    },
    { timeout: 10_000, interval: 100 },
  );
}

async function completed(name: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const t = await objects.getTermination(ns, name);
      if (t?.status?.phase !== "Completed") throw new Error(`phase ${t?.status?.phase ?? "none"}`);
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** The value of one metric series (exact name and labels), undefined when absent. */
async function metric(series: string): Promise<number | undefined> {
  const line = (await operator.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const issSub = (sub: string): Record<string, string> => ({ format: "iss_sub", iss: USERS, sub });
const email = (address: string): Record<string, string> => ({ format: "email", email: address });

beforeAll(async () => {
  await applyVigilCrds(env);
  ns = await createNamespace(env);
  redis = connections.raw();
  signalsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "vigil-ssf-"));
  const cert = writeServingCert(dir);
  tx = await SsfTransmitter.start({ audience: AUDIENCE, managementToken: MANAGEMENT_TOKEN, receiverCa: cert });
  writeFileSync(join(dir, "management-token"), MANAGEMENT_TOKEN);
  writeFileSync(join(dir, "push-token"), PUSH_TOKEN);
  const stream = {
    transmitter: tx.issuer,
    audience: AUDIENCE,
    algorithms: ["ES256"],
    subjectIssuer: USERS,
    managementTokenFile: join(dir, "management-token"),
    healthCheckSeconds: 5,
  };
  writeFileSync(
    join(dir, "signals.yaml"),
    JSON.stringify({
      ssf: [
        {
          ...stream,
          name: "idp-push",
          delivery: "push",
          pushTokenFile: join(dir, "push-token"),
          pushUrl: `https://127.0.0.1:${signalsPort}/ssf/push/idp-push`,
        },
        { ...stream, name: "idp-poll", delivery: "poll", pollIntervalSeconds: 1, maxEvents: 2 },
      ],
    }),
  );
  operator = await OperatorProcess.start(env, {
    redisUrl: env.redisUrl,
    prefix,
    namespace: ns,
    identity: uniqueName("op"),
    env: {
      // The revocation's cutoff is then exactly the event's time (no clock-skew allowance added).
      VIGIL_REVOCATION_CLOCK_SKEW_SECONDS: "0",
      VIGIL_SIGNALS_PORT: String(signalsPort),
      VIGIL_SIGNALS_HOST: "127.0.0.1",
      VIGIL_SIGNALS_CERT_DIR: dir,
      VIGIL_SIGNALS_CONFIG_FILE: join(dir, "signals.yaml"),
    },
  });
  await operator.waitUntilLeading();
  standIn = new StandIn(connections, prefix, { namespace: ns, pod: "web-0" });
  await vi.waitFor(
    () => {
      expect(operator.lines.some((l) => l["event"] === "signals.started")).toBe(true);
      expect(standIn.view.loaded).toBe(true);
      expect(tx.streams.size).toBe(2);
    },
    { timeout: 30_000, interval: 50 },
  );
});

afterAll(async () => {
  await standIn.stop();
  await operator.stop();
  await tx.close();
  await connections.closeAll();
});

describe("SSF stream management", () => {
  it("creates a push and a poll stream, reads their status, asks for verification and records the verification event", async () => {
    const creations = tx.requests.filter((r) => r.method === "POST" && r.path === "/ssf/stream");
    expect(creations).toHaveLength(2);
    for (const r of creations) expect(r.authorization).toBe(`Bearer ${MANAGEMENT_TOKEN}`);
    expect(creations.map((r) => r.body)).toEqual(
      expect.arrayContaining([
        {
          delivery: { method: PUSH, endpoint_url: `https://127.0.0.1:${signalsPort}/ssf/push/idp-push`, authorization_header: `Bearer ${PUSH_TOKEN}` },
          events_requested: CAEP_REQUESTED,
          description: "Vigil session control (idp-push)",
        },
        { delivery: { method: POLL }, events_requested: CAEP_REQUESTED, description: "Vigil session control (idp-poll)" },
      ]),
    );
    // Status and a verification request per stream; each verification event (pushed, or polled) echoes the state.
    await vi.waitFor(
      async () => {
        for (const stream of ["idp-push", "idp-poll"]) {
          expect(await metric(`vigil_operator_ssf_stream_enabled{stream="${stream}"}`)).toBe(1);
          expect(await metric(`vigil_operator_ssf_last_verified_timestamp_seconds{stream="${stream}"}`)).toBeGreaterThan(0);
        }
      },
      { timeout: 20_000, interval: 200 },
    );
    const ids = new Set([tx.streamBy(PUSH).id, tx.streamBy(POLL).id]);
    const statusReads = tx.requests.filter((r) => r.path === "/ssf/status");
    expect(statusReads.length).toBeGreaterThanOrEqual(2);
    const verifications = tx.requests.filter((r) => r.method === "POST" && r.path === "/ssf/verify");
    expect(new Set(verifications.map((r) => (r.body as { stream_id: string }).stream_id))).toEqual(ids);
    for (const v of verifications) expect((v.body as { state: string }).state).toMatch(/^[A-Za-z0-9_-]{22}$/u);
    expect(tx.streamBy(PUSH).pushed.map((a) => a.status)).toContain(202);
    expect(operator.lines.filter((l) => l["event"] === "ssf.verification").map((l) => l["matched"])).toContain(true);
  });
});

describe("CAEP events over push", () => {
  it("session-revoked for an IdP session: a SessionTermination for that session, published with the event's time as cutoff, acknowledged", async () => {
    const sid = `sid-${randomBytes(6).toString("hex")}`;
    const eventAt = Math.floor(Date.now() / 1000) - 120;
    const claims = tx.claims(
      "session-revoked",
      { format: "complex", user: issSub("alice"), session: { format: "opaque", id: sid } },
      { event_timestamp: eventAt },
    );
    expect(await tx.push(await tx.sign(claims))).toEqual({ status: 202, json: undefined });

    const t = await terminationFor({ idpSessionID: sid, issuer: USERS });
    expect(t.metadata.labels).toMatchObject({ [SIGNAL_SOURCE_LABEL]: "ssf", [SIGNAL_LABEL]: "session-revoked" });
    expect(t.spec.reason).toContain("CAEP session-revoked");
    expect(t.spec.reason).toContain("idp-push");
    expect(t.spec.cutoffTime).toBe(new Date(eventAt * 1000).toISOString());
    await completed(t.metadata.name ?? "");
    expect(standIn.acked.size).toBeGreaterThanOrEqual(1);

    // On the bus: that login's selector, cutoff = the event's time. The sidecars' one coverage rule then ends a
    // session of that login started before the event, and never one started after it.
    const revocation = [...(await busRevocations(redis, prefix, ns)).values()]
      .map((e) => e.revocation)
      .find((r) => r.id.includes(`/${t.metadata.name ?? ""}/`));
    expect(revocation?.selector).toEqual(idpSessionSelector(USERS, sid));
    expect(revocation?.tokensIssuedBefore).toBe(eventAt * 1000);
    if (revocation === undefined) throw new Error("not published");
    const who = {
      sessionId: "s_AAAAAAAAAAAAAAAAAAAAAA",
      sessionKey: sessionKeyOf({ issuer: USERS, sessionClaim: { name: "sid", value: sid } }),
      principal: { issuer: USERS, subject: "alice", groups: [] },
    };
    expect(covers(revocation, who, (eventAt - 60) * 1000, Date.now())).toBe(true);
    expect(covers(revocation, who, (eventAt + 1) * 1000, Date.now())).toBe(false);
  });

  it("maps each CAEP event to what it ends (or only records)", async () => {
    const cases: { name: string; type: string; subId: unknown; event: Record<string, unknown>; target?: TerminationTarget; signal?: string }[] = [
      { name: "session-revoked for a user", type: "session-revoked", subId: email("Bob@Example.com"), event: {}, target: { email: "bob@example.com" } },
      {
        name: "credential-change revoke",
        type: "credential-change",
        subId: issSub("carol"),
        event: { credential_type: "password", change_type: "revoke" },
        target: { subject: "carol", issuer: USERS },
      },
      {
        name: "credential-change delete",
        type: "credential-change",
        subId: { format: "complex", user: email("dave@example.com") },
        event: { credential_type: "fido2-roaming", change_type: "delete" },
        target: { email: "dave@example.com" },
      },
      {
        name: "device-compliance-change to not-compliant (the device's session)",
        type: "device-compliance-change",
        subId: { format: "complex", user: issSub("erin"), device: { format: "opaque", id: "laptop-7" }, session: { format: "opaque", id: "sid-erin" } },
        event: { previous_status: "compliant", current_status: "not-compliant" },
        target: { idpSessionID: "sid-erin", issuer: USERS },
      },
      {
        name: "device-compliance-change to not-compliant (no session named: the user's sessions)",
        type: "device-compliance-change",
        subId: { format: "complex", user: issSub("frank"), device: { format: "opaque", id: "phone-2" } },
        event: { previous_status: "compliant", current_status: "not-compliant" },
        target: { subject: "frank", issuer: USERS },
      },
      { name: "credential-change create", type: "credential-change", subId: issSub("gina"), event: { credential_type: "password", change_type: "create" } },
      {
        name: "device-compliance-change to compliant",
        type: "device-compliance-change",
        subId: issSub("gina"),
        event: { previous_status: "not-compliant", current_status: "compliant" },
      },
      {
        name: "assurance-level-change decreasing",
        type: "assurance-level-change",
        subId: issSub("gina"),
        event: { namespace: "NIST-AAL", previous_level: "nist-aal2", current_level: "nist-aal1", change_direction: "decrease" },
        signal: "assurance-level-change",
      },
    ];
    for (const c of cases) {
      const answer = await tx.push(await tx.sign(tx.claims(c.type, c.subId, c.event)));
      expect({ case: c.name, ...answer }).toEqual({ case: c.name, status: 202, json: undefined });
      if (c.target !== undefined) {
        const t = await terminationFor(c.target);
        expect({ case: c.name, labels: t.metadata.labels }).toMatchObject({ case: c.name, labels: { [SIGNAL_SOURCE_LABEL]: "ssf", [SIGNAL_LABEL]: c.type } });
        expect(t.spec.reason).toContain(`CAEP ${c.type}`);
      }
    }
    // Audit only: recorded in the operator's log, no SessionTermination for gina.
    const audits = operator.lines.filter((l) => l["event"] === "ssf.audit");
    expect(audits.map((l) => l["signal"])).toEqual(expect.arrayContaining(["credential-change", "device-compliance-change", "assurance-level-change"]));
    expect(audits.find((l) => l["signal"] === "assurance-level-change")?.["description"]).toContain("decreased (NIST-AAL: nist-aal2 → nist-aal1)");
    const targets = (await ssfTerminations()).map((t) => t.spec.target);
    expect(targets).not.toContainEqual({ subject: "gina", issuer: USERS });
    expect(targets.filter((t) => t.subject === "gina" || t.email === "gina")).toEqual([]);
  });
});

describe("CAEP events over poll (RFC 8936)", () => {
  it("polls with maxEvents, follows moreAvailable, acknowledges what it processed, reports a refused SET in setErrs, acknowledges a re-delivered one", async () => {
    const poll = tx.streamBy(POLL);
    const users = ["p1", "p2", "p3", "p4", "p5"].map((u) => `${u}-${randomBytes(3).toString("hex")}`);
    const good: string[] = [];
    for (const user of users) {
      const claims = tx.claims("session-revoked", issSub(user), {});
      good.push(String(claims.jti));
      tx.enqueue(String(claims.jti), await tx.sign(claims));
    }
    const wrongAud = tx.claims("session-revoked", issSub("mallory"), {}, { aud: "https://someone-else.example" });
    tx.enqueue(String(wrongAud.jti), await tx.sign(wrongAud));
    const before = tx.requests.length;

    await vi.waitFor(
      () => {
        expect(poll.acked).toEqual(expect.arrayContaining(good));
        expect(poll.setErrs[String(wrongAud.jti)]?.err).toBe("invalid_audience");
        expect(poll.queue.size).toBe(0);
      },
      { timeout: 20_000, interval: 100 },
    );
    for (const user of users) await terminationFor({ subject: user, issuer: USERS });
    expect((await ssfTerminations()).map((t) => t.spec.target.subject)).not.toContain("mallory");
    const polls = tx.requests.slice(before).filter((r) => r.path === `/ssf/poll/${poll.id}`);
    for (const r of polls) {
      expect(r.authorization).toBe(`Bearer ${MANAGEMENT_TOKEN}`);
      expect(r.body).toMatchObject({ maxEvents: 2, returnImmediately: true });
    }
    // Six queued, two at a time: the receiver asked again at once while more was available.
    expect(polls.length).toBeGreaterThanOrEqual(4);

    // The same SET delivered again (an acknowledgement lost): acknowledged again, nothing new created.
    const count = (await ssfTerminations()).length;
    const again = good[0] ?? "";
    const set = await tx.sign({ ...tx.claims("session-revoked", issSub(users[0] ?? ""), {}), jti: again });
    poll.acked.length = 0;
    tx.enqueue(again, set);
    await vi.waitFor(
      () => {
        expect(poll.acked).toContain(again);
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(poll.setErrs[again]).toBeUndefined();
    expect((await ssfTerminations()).length).toBe(count);
  });
});

describe("stream health", () => {
  it("a stream the transmitter reports paused shows as not enabled", async () => {
    tx.streamBy(PUSH).status = "paused";
    await vi.waitFor(
      async () => {
        expect(await metric(`vigil_operator_ssf_stream_enabled{stream="idp-push"}`)).toBe(0);
      },
      { timeout: 15_000, interval: 200 },
    );
    expect(operator.lines.some((l) => l["event"] === "ssf.stream_not_enabled" && l["stream"] === "idp-push")).toBe(true);
    tx.streamBy(PUSH).status = "enabled";
  });
});

interface AttackCase {
  name: string;
  /** The request: a body (and headers) the attacker sends to the push endpoint. */
  build: (subject: Record<string, string>) => Promise<{ body: string | Buffer; headers?: Record<string, string> }>;
  err: string;
  reason: string;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
const revoked = (subject: Record<string, string>, extra: Record<string, unknown> = {}): ReturnType<SsfTransmitter["claims"]> =>
  tx.claims("session-revoked", subject, {}, extra);
const signed = async (claims: ReturnType<SsfTransmitter["claims"]>, header: Record<string, unknown> = {}): Promise<{ body: string }> => ({
  body: await tx.sign(claims, header),
});

const ATTACKS: AttackCase[] = [
  {
    name: "signed by another key under the transmitter's kid",
    build: async (s) => ({ body: await tx.sign(revoked(s), {}, (await generateKeyPair("ES256")).privateKey) }),
    err: "invalid_key",
    reason: "bad_signature",
  },
  {
    name: "signed by a key the transmitter does not publish",
    build: async (s) => ({ body: await tx.sign(revoked(s), { kid: "not-published" }, (await generateKeyPair("ES256")).privateKey) }),
    err: "invalid_key",
    reason: "unknown_key",
  },
  { name: "wrong aud", build: (s) => signed(revoked(s, { aud: "https://another-receiver.example" })), err: "invalid_audience", reason: "wrong_audience" },
  { name: "wrong iss", build: (s) => signed(revoked(s, { iss: "https://evil.example" })), err: "invalid_issuer", reason: "wrong_issuer" },
  {
    name: "replayed jti",
    build: async (s) => {
      const body = await tx.sign(revoked(s));
      expect((await tx.push(body)).status).toBe(202); // delivered once, legitimately
      return { body };
    },
    err: "invalid_request",
    reason: "replayed",
  },
  {
    name: "two events in one SET",
    build: (s) =>
      signed({
        ...revoked(s),
        events: { [`${CAEP}session-revoked`]: {}, [`${CAEP}credential-change`]: { change_type: "revoke", credential_type: "password" } },
      }),
    err: "invalid_request",
    reason: "event_count",
  },
  {
    name: "unknown event type",
    build: (s) => signed(tx.claims("https://example.com/events/account-hijacked", s, {})),
    err: "invalid_request",
    reason: "unknown_event",
  },
  { name: "missing sub_id", build: () => signed(tx.claims("session-revoked", undefined, {})), err: "invalid_request", reason: "no_sub_id" },
  {
    name: "sub_id naming no user or session",
    build: () => signed(tx.claims("session-revoked", { format: "opaque", id: "x" }, {})),
    err: "invalid_request",
    reason: "unusable_subject",
  },
  {
    name: "oversized request body",
    build: async (s) => ({ body: `${await tx.sign(revoked(s))}${"A".repeat(70 * 1024)}` }),
    err: "invalid_request",
    reason: "oversized",
  },
  {
    name: "oversized SET (validly signed)",
    build: (s) => signed(revoked(s, { padding: "x".repeat(20 * 1024) })),
    err: "invalid_request",
    reason: "oversized",
  },
  {
    name: "alg none, unsigned",
    build: (s) => Promise.resolve({ body: `${b64({ alg: "none", typ: "secevent+jwt" })}.${b64(revoked(s))}.` }),
    err: "invalid_request",
    reason: "malformed",
  },
  {
    name: "alg none with a signature segment",
    build: (s) => Promise.resolve({ body: `${b64({ alg: "none", typ: "secevent+jwt" })}.${b64(revoked(s))}.c2ln` }),
    err: "invalid_request",
    reason: "alg_not_allowed",
  },
  {
    name: "HS256 keyed with the transmitter's public key",
    build: async (s) => {
      const jwks: unknown = await (await fetch(`${tx.issuer}/jwks`)).json();
      return { body: await tx.sign(revoked(s), { alg: "HS256" }, new TextEncoder().encode(JSON.stringify(jwks))) };
    },
    err: "invalid_request",
    reason: "alg_not_allowed",
  },
  { name: "expired", build: (s) => signed(revoked(s, { exp: Math.floor(Date.now() / 1000) - 600 })), err: "invalid_request", reason: "expired" },
  {
    name: "issued eight days ago",
    build: (s) => signed(revoked(s, { iat: Math.floor(Date.now() / 1000) - 8 * 86_400 })),
    err: "invalid_request",
    reason: "too_old",
  },
  {
    name: "issued in the future",
    build: (s) => signed(revoked(s, { iat: Math.floor(Date.now() / 1000) + 3600 })),
    err: "invalid_request",
    reason: "issued_in_future",
  },
  { name: "typ JWT (not a SET)", build: (s) => signed(revoked(s), { typ: "JWT" }), err: "invalid_request", reason: "wrong_type" },
  { name: "no jti", build: (s) => signed(revoked(s, { jti: undefined })), err: "invalid_request", reason: "bad_jti" },
  { name: "not a JWT", build: () => Promise.resolve({ body: "not-a-set" }), err: "invalid_request", reason: "malformed" },
  {
    name: "wrong bearer",
    build: async (s) => ({ body: await tx.sign(revoked(s)), headers: { authorization: `Bearer ${randomBytes(16).toString("hex")}` } }),
    err: "authentication_failed",
    reason: "authentication_failed",
  },
  {
    name: "no bearer",
    build: async (s) => ({ body: await tx.sign(revoked(s)), headers: { authorization: "" } }),
    err: "authentication_failed",
    reason: "authentication_failed",
  },
  {
    name: "wrong content type",
    build: async (s) => ({ body: await tx.sign(revoked(s)), headers: { "content-type": "application/json" } }),
    err: "invalid_request",
    reason: "content_type",
  },
];

describe("the SET attack corpus (push)", () => {
  it.each(ATTACKS)("$name: 400 $err, counted as $reason, nothing ended", async ({ build, err, reason }) => {
    const series = `vigil_operator_signal_requests_total{receiver="ssf/idp-push",result="${reason}"}`;
    const countBefore = (await metric(series)) ?? 0;
    const subject = issSub(`attack-${randomBytes(6).toString("hex")}`);
    const { body, headers } = await build(subject);
    const answer = await tx.push(body, headers);
    expect(answer).toEqual({ status: 400, json: { err, description: expect.any(String) as string } });
    expect(await metric(series)).toBe(countBefore + 1);
    const sessionsOf = (await ssfTerminations()).filter((t) => t.spec.target.subject === subject["sub"]);
    expect(sessionsOf).toHaveLength(reason === "replayed" ? 1 : 0);
  });

  it("after the corpus the endpoint still serves: a valid SET is accepted and acted on", async () => {
    const sub = `after-${randomBytes(4).toString("hex")}`;
    expect((await tx.push(await tx.sign(revoked(issSub(sub))))).status).toBe(202);
    await terminationFor({ subject: sub, issuer: USERS });
    expect(operator.lines.some((l) => l["event"] === "signals.handler_error")).toBe(false);
    expect(await metric(`vigil_operator_signals_total{receiver="ssf/idp-push",result="bad_signature"}`)).toBeGreaterThanOrEqual(1);
  });
});
