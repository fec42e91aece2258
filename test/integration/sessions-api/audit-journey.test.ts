/**
 * Sessions fed by the sidecars' audit events, end to end with real parts: the chart installed; vigil-operator run as
 * a local process from the installed Deployment's environment (controllers, webhook, sessions API and audit ingest)
 * with the chart's ServiceAccount; the aggregation layer routed to its sessions API (live-operator.ts); two injected sidecars (pods
 * web-0 in one namespace, api-0 in another) run as local processes with the configuration the injection produced,
 * in front of a local application. Then, through kubectl and the API server only:
 *   - the journey (alice: download, WebSocket, tunnel, and a request in the second namespace; bob: a WebSocket and a
 *     refused request) appears in `kubectl get vigilsessions` with the right flows, kinds, ports and bytes, and the
 *     refusal among bob's recent events; the sidecars' stdout carries the events without personal data;
 *   - the audit stream cannot be read without the key ring; tampered, replayed and rogue entries are refused and
 *     counted, and the operator keeps ingesting;
 *   - `kubectl delete vigilsession` resets exactly that session's flows (the SessionTermination controller does it)
 *     and the session shows its end reason where it is still listed;
 *   - a session that went idle shows the end reason IdleTimeout;
 *   - a sidecar killed with SIGKILL leaves its sessions marked stale.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { get, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { V1Pod } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import type { VigilSession } from "../../../operator/api/sessions/v1alpha1.ts";
import { auditSubject } from "../../../operator/api/audit/stream.ts";
import { createKeyRing } from "../../../lib/sealing.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import {
  AUDIENCE,
  createIssuer,
  echo,
  ISSUER,
  openTunnel,
  startEchoServer,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type UpstreamApp,
} from "../sidecar/proxy-harness.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { startInjectedSidecar, type LocalSidecar } from "../e2e/local-sidecar.ts";
import { startLiveOperator, type LiveOperator } from "./live-operator.ts";
import { tableRows } from "./rig.ts";

const id = randomBytes(3).toString("hex");
const RELEASE = `vigil-audit-${id}`;
const SYSTEM = `vigil-audit-system-${id}`;
const SHOP = `audit-shop-${id}`;
const WEB = `audit-web-${id}`;
const PREFIX = `vigil-audit-${id}:`;
const STREAM = `${PREFIX}audit`;
/** Fast reporting so that the test waits seconds, not the defaults' tens of seconds. */
const SIDECAR_AUDIT = { VIGIL_AUDIT_ACTIVITY_MS: "500", VIGIL_AUDIT_FLOW_PROGRESS_MS: "300", VIGIL_HEARTBEAT_INTERVAL_MS: "500" };

const waitFor = <T>(fn: () => Promise<T> | T, timeout = 30_000, interval = 250): Promise<T> => vi.waitFor(fn, { timeout, interval });

const barePod = (name: string, app: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: ${app}}
spec:
  containers:
    - name: app
      image: example/${app}:1
      ports: [{containerPort: 8080}]
`;

const policy = (name: string, app: string, tunnelPort: number, idleTimeout: string): string => `
apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: ${name}
spec:
  selector:
    matchLabels: {app: ${app}}
  session:
    idleTimeout: ${idleTimeout}
  rules:
    - name: no-admin-for-outsiders
      action: Deny
      identities: [{group: contractors}]
      requests:
        - methods: [GET]
          paths: ["/admin"]
    - name: staff
      action: Allow
      identities: [{group: engineers}, {group: contractors}]
      requests:
        - methods: [GET]
          paths: ["*"]
        - methods: [CONNECT]
          ports: [${tunnelPort}]
`;

/** GET on a connection of its own that closes after the answer (no keep-alive socket left behind). */
function request(port: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path, agent: false, headers: { authorization: `Bearer ${token}`, connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => {
        resolve(res.statusCode ?? 0);
      });
    });
    req.on("error", reject);
  });
}

/** A download that keeps streaming until destroyed; resolves once `bytes` arrived. */
async function download(port: number, token: string, bytes: number): Promise<{ res: IncomingMessage; received: () => number; closed: Promise<void> }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path: "/stream", agent: false, headers: { authorization: `Bearer ${token}` } }, resolve);
    req.on("error", reject);
  });
  let received = 0;
  res.on("data", (chunk: Buffer) => (received += chunk.length));
  res.on("error", () => undefined);
  const closed = closeOf(res);
  await waitFor(
    () => {
      if (received < bytes) throw new Error(`${received} bytes so far`);
    },
    10_000,
    20,
  );
  return { res, received: () => received, closed };
}

/** Resolves when `emitter` closes, whatever errors it reported before (a reset emits `error` first). */
function closeOf(emitter: { once(event: "close", listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    emitter.once("close", () => {
      resolve();
    });
  });
}

async function openWebSocket(port: number, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${token}` } });
  ws.on("error", () => undefined);
  await once(ws, "open");
  return ws;
}

async function wsEcho(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [reply] = (await once(ws, "message")) as [Buffer];
  return reply.toString();
}

describe("sessions from the sidecars' audit events, through kubectl", () => {
  let env: ClusterEnv;
  let issuer: Issuer;
  let app: UpstreamApp;
  let echoServer: EchoServer;
  let operator: LiveOperator | undefined;
  let shop: LocalSidecar | undefined;
  let web: LocalSidecar | undefined;
  let redis: Redis;
  const tokens: Record<string, string> = {};
  const live: { aliceWs?: WebSocket; bobWs?: WebSocket; tunnel?: Socket; stream?: Awaited<ReturnType<typeof download>> } = {};

  const session = (namespace: string, name: string): Promise<VigilSession> => kubectlJson<VigilSession>(env, ["get", "vigilsession", name], { namespace });
  const sessions = async (namespace: string): Promise<VigilSession[]> =>
    (await kubectlJson<{ items: VigilSession[] }>(env, ["get", "vigilsessions"], { namespace })).items;
  const byUser = async (namespace: string, subject: string): Promise<VigilSession> => {
    const found = (await sessions(namespace)).find((s) => s.identity.subject === subject);
    if (found === undefined) throw new Error(`no session of ${subject} in ${namespace} yet`);
    return found;
  };
  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${operator?.config.adminPort ?? 0}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  };

  beforeAll(async () => {
    env = clusterEnv();
    redis = new Redis(env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    [issuer, app, echoServer] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
    for (const ns of [SHOP, WEB]) {
      await kubectlOk(env, ["create", "namespace", ns]);
      await kubectlOk(env, ["label", "namespace", ns, "vigil.dev/injection=enabled"]);
    }
    operator = await startLiveOperator(env, {
      release: RELEASE,
      system: SYSTEM,
      values: {
        bus: { prefix: PREFIX },
        injection: { namespaces: [SHOP, WEB] },
        operator: { heartbeatMaxAgeSeconds: 5 },
        sidecar: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: issuer.jwks }] },
      },
    });

    // Two protected pods (no kubelet: their sidecars run here with the injected configuration).
    for (const ns of [SHOP, WEB]) await waitFor(() => kubectlOk(env, ["get", "serviceaccount", "default"], { namespace: ns }));
    const shopPod = await kubectlJson<V1Pod>(env, ["create", "-o", "json", "-f", "-"], { namespace: SHOP, input: barePod("web-0", "web") });
    const webPod = await kubectlJson<V1Pod>(env, ["create", "-o", "json", "-f", "-"], { namespace: WEB, input: barePod("api-0", "api") });
    shop = await startInjectedSidecar(env, shopPod, app.port, SIDECAR_AUDIT);
    web = await startInjectedSidecar(env, webPod, app.port, SIDECAR_AUDIT);
    await Promise.all([shop.waitReady(), web.waitReady()]);

    await kubectlOk(env, ["apply", "-f", "-"], { namespace: SHOP, input: policy("shop", "web", echoServer.port, "30m") });
    await kubectlOk(env, ["apply", "-f", "-"], { namespace: WEB, input: policy("web", "api", echoServer.port, "3s") });
    tokens["alice"] = await issuer.token({ sub: "alice", email: "alice@example.test", sid: `a-${id}`, groups: ["engineers"] });
    tokens["bob"] = await issuer.token({ sub: "bob", email: "bob@example.test", sid: `b-${id}`, groups: ["contractors"] });
    tokens["carol"] = await issuer.token({ sub: "carol", sid: `c-${id}`, groups: ["engineers"] });
    await waitFor(async () => {
      const [a, b] = [await request(shop?.port ?? 0, "/hello", tokens["alice"] ?? ""), await request(web?.port ?? 0, "/hello", tokens["alice"] ?? "")];
      if (a !== 200 || b !== 200) throw new Error(`policies not enforced yet: ${a} ${b}`);
    }, 60_000);
  }, 240_000);

  afterAll(async () => {
    live.aliceWs?.terminate();
    live.bobWs?.terminate();
    live.tunnel?.destroy();
    live.stream?.res.destroy();
    await shop?.stop();
    await web?.stop();
    for (const ns of [SHOP, WEB]) await kubectl(env, ["delete", "accesspolicies.vigil.dev", "--all", "--timeout=15s"], { namespace: ns });
    await operator?.stop();
    await Promise.all([app.close(), echoServer.close()]);
    redis.disconnect();
    for (const ns of [SHOP, WEB]) await kubectl(env, ["delete", "namespace", ns, "--wait=false"]);
  }, 120_000);

  it("shows the journey in kubectl get vigilsessions: two users, a download, a WebSocket, a tunnel, with kinds, ports and bytes; the refusal among the events", async () => {
    const shopPort = shop?.port ?? 0;
    const [alice, bob] = [tokens["alice"] ?? "", tokens["bob"] ?? ""];
    live.stream = await download(shopPort, alice, 50_000);
    live.aliceWs = await openWebSocket(shopPort, alice);
    expect(await wsEcho(live.aliceWs, "a".repeat(5000))).toHaveLength(5000);
    live.tunnel = await openTunnel(shopPort, echoServer.port, alice);
    expect(await echo(live.tunnel, "t".repeat(3000))).toHaveLength(3000);
    live.bobWs = await openWebSocket(shopPort, bob);
    expect(await wsEcho(live.bobWs, "hello from bob")).toBe("hello from bob");
    expect(await request(shopPort, "/admin", bob)).toBe(403);

    const rows = await waitFor(async () => {
      const table = tableRows(await kubectlOk(env, ["get", "vigilsessions"], { namespace: SHOP }));
      const users = table.map((r) => `${r["USER"] ?? ""}:${r["FLOWS"] ?? ""}:${r["STATE"] ?? ""}`).sort();
      if (users.join(" ") !== "alice@example.test:3:Active bob@example.test:1:Active") throw new Error(`table so far: ${users.join(" ")}`);
      return table;
    });
    expect(rows.map((r) => r["CLIENT"])).toEqual(["127.0.0.1", "127.0.0.1"]);

    const aliceSession = await waitFor(async () => {
      const s = await byUser(SHOP, "alice");
      const kind = (k: string) => s.flows.find((f) => f.kind === k);
      const [ws, tunnel, stream] = [kind("websocket"), kind("tunnel"), kind("stream")];
      if (ws === undefined || tunnel === undefined || stream === undefined) throw new Error(`flows: ${JSON.stringify(s.flows)}`);
      if (ws.bytesIn < 5000 || ws.bytesOut < 5000 || tunnel.bytesIn < 3000 || tunnel.bytesOut < 3000 || stream.bytesOut < 50_000)
        throw new Error(`bytes not reported yet: ${JSON.stringify(s.flows)}`);
      return s;
    });
    expect(aliceSession).toMatchObject({
      identity: { issuer: ISSUER, subject: "alice", email: "alice@example.test", groups: ["engineers"] },
      state: "Active",
      stale: false,
    });
    expect(aliceSession.flows.map((f) => [f.kind, f.pod, f.port]).sort()).toEqual([
      ["stream", "web-0", app.port],
      ["tunnel", "web-0", echoServer.port],
      ["websocket", "web-0", app.port],
    ]);
    for (const f of aliceSession.flows) expect(f.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(aliceSession.admittedBy).toContainEqual({ policy: `${SHOP}/shop`, rule: "staff" });
    expect(aliceSession.recentEvents.map((e) => e.code)).toEqual(expect.arrayContaining(["VS001I", "VF001I"]));

    // alice in the second namespace: the same session, with that namespace's part.
    await waitFor(async () => {
      const s = await session(WEB, aliceSession.metadata.name);
      expect(s).toMatchObject({ identity: { subject: "alice" }, workloads: [expect.objectContaining({ pod: "api-0" })], flows: [] });
    });

    const bobSession = await waitFor(async () => {
      const s = await byUser(SHOP, "bob");
      if (!s.recentEvents.some((e) => e.code === "VS003W")) throw new Error("no refusal yet");
      return s;
    });
    expect(bobSession.flows.map((f) => f.kind)).toEqual(["websocket"]);
    expect(bobSession.recentEvents.find((e) => e.code === "VS003W")).toMatchObject({
      type: "session.refused",
      outcome: "failure",
      reason: `DENIED_BY_RULE by ${SHOP}/shop/no-admin-for-outsiders (http)`,
    });

    // The sidecar's stdout: the same events as JSON lines, correlated by cid, without personal data.
    const lines = (shop?.output() ?? "").split("\n").filter((l) => l.includes('"code":"V'));
    const starts = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["event"] === "session.start");
    expect(starts.map((l) => l["subject"]).sort()).toEqual(["alice", "bob"]);
    for (const l of starts)
      expect(l).toMatchObject({ code: "VS001I", cid: expect.stringMatching(/^c_[A-Za-z0-9_-]{22}$/) as unknown, groupCount: 1, issuer: ISSUER });
    for (const secret of ["alice@example.test", "bob@example.test", aliceSession.metadata.name, bobSession.metadata.name, "engineers", "contractors"]) {
      expect(
        lines.filter((l) => l.includes(secret)),
        secret,
      ).toEqual([]);
    }
  });

  it("keeps the audit stream sealed: unreadable without the key ring; tampered, replayed and rogue entries are refused and counted", async () => {
    const entries = (await redis.xrange(STREAM, "-", "+")) as [string, string[]][];
    expect(entries.length).toBeGreaterThan(0);
    const raw = JSON.stringify(entries);
    const ids = [...(await sessions(SHOP)), ...(await sessions(WEB))].map((v) => v.metadata.name);
    expect(ids.length).toBeGreaterThan(0);
    for (const personal of ["alice", "example.test", "127.0.0.1", "engineers", ...ids]) expect(raw, personal).not.toContain(personal);
    const [, fields] = entries.find(([, e]) => e[1] === `${SHOP}/web-0`) ?? ["", []];
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] ?? "", fields[i + 1] ?? "");
    const [o, inc, s, d] = ["o", "i", "s", "d"].map((k) => f.get(k) ?? "") as [string, string, string, string];
    expect(o).toBe(`${SHOP}/web-0`);
    const stranger = createKeyRing({ keys: [{ id: "k1", key: randomBytes(32) }], primary: "k1" });
    expect(() => stranger.for("audit").open(auditSubject(o, inc, Number(s)), d)).toThrow(/invalid/);

    const before = {
      undecryptable: await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_UNDECRYPTABLE"'),
      replayed: await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_REPLAYED"'),
      malformed: await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_MALFORMED"'),
    };
    const tampered = `${d.slice(0, 40)}${d[40] === "A" ? "B" : "A"}${d.slice(41)}`;
    await redis.xadd(STREAM, "*", "o", o, "i", inc, "s", s, "d", tampered); // a flipped ciphertext byte
    await redis.xadd(STREAM, "*", ...fields); // the same entry again
    await redis.xadd(STREAM, "*", "o", `${SHOP}/web-0`, "i", "0123456789abcdef", "s", "1", "d", JSON.stringify({ v: 1, events: [{ event: "session.end" }] })); // a rogue writer's plain JSON
    await redis.xadd(STREAM, "*", "m", "not an audit entry");
    await waitFor(async () => {
      expect(await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_UNDECRYPTABLE"')).toBe(before.undecryptable + 2);
      expect(await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_REPLAYED"')).toBe(before.replayed + 1);
      expect(await metric("vigil_operator_audit_entries_refused_total", 'code="AUDIT_ENTRY_MALFORMED"')).toBe(before.malformed + 1);
    });
    expect(operator?.process.running()).toBe(true);
    expect(operator?.process.output()).toContain('"code":"VO030W"');

    // …and the operator goes on ingesting: a new session appears.
    expect(await request(shop?.port ?? 0, "/hello", tokens["carol"] ?? "")).toBe(200);
    await waitFor(() => byUser(SHOP, "carol"));
  });

  it("resets exactly that session's flows on kubectl delete vigilsession; where the session is still listed it shows its end reason", async () => {
    const alice = await byUser(SHOP, "alice");
    const closed: Promise<unknown>[] = [
      closeOf(live.aliceWs as WebSocket),
      closeOf(live.tunnel as Socket),
      live.stream?.closed ?? Promise.reject(new Error("no download")),
    ];
    const deleted = await kubectlOk(env, ["delete", "vigilsession", alice.metadata.name], { namespace: SHOP });
    expect(deleted).toContain(`vigilsession.sessions.vigil.dev "${alice.metadata.name}" deleted`);
    await Promise.all(closed);
    expect(await wsEcho(live.bobWs as WebSocket, "still here")).toBe("still here");
    expect((await kubectl(env, ["get", "vigilsession", alice.metadata.name], { namespace: SHOP })).stderr).toContain("NotFound");

    const ended = await waitFor(async () => {
      const s = await session(WEB, alice.metadata.name);
      if (s.state !== "Ended") throw new Error(`state ${s.state}`);
      return s;
    });
    expect(ended.endReason).toMatch(new RegExp(`^Terminated: SessionTermination ${SHOP}/vs-delete-[0-9a-f]{16}$`));
    const wide = tableRows(await kubectlOk(env, ["get", "vigilsessions", "-o", "wide"], { namespace: WEB })).find((r) => r["ID"] === alice.metadata.name);
    expect(wide).toMatchObject({ STATE: "Ended", "END REASON": expect.stringMatching(/^Terminated: SessionTermination /) as unknown });
    const bob = await byUser(SHOP, "bob");
    expect(bob).toMatchObject({ state: "Active", flows: [expect.objectContaining({ kind: "websocket" })] });
  });

  it("shows the end reason IdleTimeout once a session went idle", async () => {
    // carol's session starts on api-0, whose policy ends sessions after 3 s without activity.
    const carol = tokens["carol"] ?? "";
    const fresh = await issuer.token({ sub: "carol", sid: `c2-${id}`, groups: ["engineers"] });
    expect(await request(web?.port ?? 0, "/hello", fresh)).toBe(200);
    expect(carol).not.toBe(fresh);
    const ended = await waitFor(async () => {
      const s = await byUser(WEB, "carol");
      if (s.state !== "Ended") throw new Error(`state ${s.state}`);
      return s;
    });
    expect(ended.endReason).toBe("IdleTimeout");
    expect(ended.recentEvents.at(-1)).toMatchObject({ type: "session.end", code: "VS004I", reason: "IdleTimeout" });
  });

  it("marks the sessions of a sidecar that died stale rather than silently active", async () => {
    const bob = await byUser(SHOP, "bob");
    expect(bob.stale).toBe(false);
    process.kill(shop?.pid ?? -1, "SIGKILL");
    await shop?.exited;
    const stale = await waitFor(async () => {
      const s = await session(SHOP, bob.metadata.name);
      if (!s.stale) throw new Error("not stale yet");
      return s;
    });
    expect(stale.workloads).toEqual([expect.objectContaining({ pod: "web-0", stale: true })]);
    const row = tableRows(await kubectlOk(env, ["get", "vigilsessions"], { namespace: SHOP })).find((r) => r["ID"] === bob.metadata.name);
    expect(row?.["STATE"]).toBe("Active (stale)");
    // The other namespace's sidecar still heartbeats: its sessions are not stale.
    expect((await sessions(WEB)).every((s) => !s.stale)).toBe(true);
  });
});
