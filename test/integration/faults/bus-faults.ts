/**
 * The bus fault scenario (issue 8), shared by the fault test (`bus-faults.test.ts`, one round) and
 * `npm run soak:bus` (rounds until a deadline): real kube-apiserver, the real operator process, two real sidecar
 * processes, a private Redis that is paused, killed and replaced by an empty one, damaged and written to by a
 * rogue. Traffic runs all along:
 *
 *   alice  allowed (group staff): requests and a live tunnel per sidecar — must never be refused or reset
 *   bob    denied (contractors) — the rogue forges policies granting contractors: must never be admitted
 *   mallory, trudy  revoked (trudy's termination has ttlSecondsAfterFinished: 1) — must never be admitted
 *   carol  revoked, then a NEW login after the termination: the new session must never be refused or reset
 *   eve    terminated while Redis is down: the status must count exactly her flows, from every live sidecar
 *   oscar  terminated by session ID; after Redis comes back empty his token maps to a NEW session ID, and a sidecar
 *          started afterwards (nothing cached) must still refuse it (the revocation carries the session key)
 *
 * Every answer is counted; any 5xx other than a 503 with Retry-After is a violation.
 */
import type { Socket } from "node:net";
import type { Redis } from "ioredis";
import { seal } from "../../../operator/api/bus/envelope.ts";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import type { EventBody } from "../../../operator/api/bus/messages.ts";
import type { AccessPolicySpec } from "../../../operator/api/v1alpha1/index.ts";
import { compiledIn } from "../../builders/bus.ts";
import { newBusKey } from "../../builders/bus-keys.ts";
import type { ClusterEnv } from "../../cluster/env.ts";
import { withSelector } from "../../builders/access-policy.ts";
import { Connections, PrivateRedis, eventually, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig } from "../operator/kube-support.ts";
import { OperatorProcess, vigilObjects } from "../operator/operator-support.ts";
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
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { randomBytes } from "node:crypto";

export interface FaultCounts {
  requests: number;
  /** A revoked identity (mallory, trudy, carol's old login) was answered 200. */
  revokedAdmitted: number;
  /** bob (denied by every genuine policy) was answered 200. */
  forgedGrantsAdmitted: number;
  /** alice's live tunnels reset (an empty or rebuilt bus must not cut allowed flows). */
  allowedFlowsReset: number;
  /** alice refused with 401/403, or carol's new login refused or its tunnel reset. */
  legitimateRefused: number;
  /** 5xx other than 503 with Retry-After. */
  serverErrors: number;
  /** 503 answers (retryable, with Retry-After): expected while Redis is down for sessions not yet known. */
  retryable: number;
  /** Terminations whose final status disagreed with what the clients observed. */
  untruthfulTerminations: number;
  rounds: number;
}

export const ZERO_TARGETS: readonly (keyof FaultCounts)[] = [
  "revokedAdmitted",
  "forgedGrantsAdmitted",
  "allowedFlowsReset",
  "legitimateRefused",
  "serverErrors",
  "untruthfulTerminations",
];

const policy = (echoPort: number): AccessPolicySpec => ({
  selector: { matchLabels: { app: "web" } },
  failureMode: "BestEffort",
  rules: [{ name: "staff", action: "Allow", identities: [{ group: "staff" }], requests: [{ paths: ["/*"] }, { methods: ["CONNECT"], ports: [echoPort] }] }],
});

interface Rig {
  env: ClusterEnv;
  ns: string;
  redis: PrivateRedis;
  raw: Redis;
  connections: Connections;
  prefix: string;
  operator: OperatorProcess;
  sidecars: SidecarProcess[];
  issuer: Issuer;
  app: UpstreamApp;
  tcp: EchoServer;
  objects: ReturnType<typeof vigilObjects>;
  startSidecar(pod: string): Promise<SidecarProcess>;
}

type Log = (line: string) => void;

export async function runBusFaults(env: ClusterEnv, opts: { until: () => boolean; log: Log }): Promise<FaultCounts> {
  const counts: FaultCounts = {
    requests: 0,
    revokedAdmitted: 0,
    forgedGrantsAdmitted: 0,
    allowedFlowsReset: 0,
    legitimateRefused: 0,
    serverErrors: 0,
    retryable: 0,
    untruthfulTerminations: 0,
    rounds: 0,
  };
  const rig = await startRig(env);
  try {
    do {
      await round(rig, counts, opts.log);
      counts.rounds++;
    } while (!opts.until());
  } finally {
    await stopRig(rig);
  }
  return counts;
}

async function startRig(env: ClusterEnv): Promise<Rig> {
  const redis = new PrivateRedis();
  await redis.start();
  const connections = new Connections(redis.url);
  const raw = connections.raw();
  const ns = await createNamespace(env);
  const prefix = uniquePrefix();
  const [issuer, app, tcp] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
  const objects = vigilObjects(kubeConfig(env));
  const sessionKey = randomBytes(32);
  const operator = await OperatorProcess.start(env, {
    sessionKey,
    redisUrl: redis.url,
    prefix,
    namespace: ns,
    identity: "faults",
    resyncSeconds: 10,
    heartbeatMaxAgeSeconds: 3,
    env: { VIGIL_REVOCATION_CLOCK_SKEW_SECONDS: "1" },
  });
  await operator.waitUntilLeading();
  await objects.createPolicy(ns, "web", policy(tcp.port));
  const startOne = (pod: string): Promise<SidecarProcess> =>
    startSidecarProcess({
      redisUrl: redis.url,
      busPrefix: prefix,
      upstreamPort: app.port,
      namespace: ns,
      pod,
      labels: { app: "web" },
      issuer: { issuer: ISSUER, audience: AUDIENCE, jwks: issuer.jwks },
      sessionKey,
      env: { VIGIL_LOG_LEVEL: "warn", VIGIL_MAX_STALENESS_SECONDS: "30" },
    });
  const sidecars = await Promise.all(["web-0", "web-1"].map(startOne));
  await Promise.all(sidecars.map((s) => s.waitReady(30_000)));
  return { env, ns, redis, raw, connections, prefix, operator, sidecars, issuer, app, tcp, objects, startSidecar: startOne };
}

async function stopRig(rig: Rig): Promise<void> {
  await Promise.all(rig.sidecars.map((s) => s.stop()));
  await rig.operator.stop();
  await rig.connections.closeAll();
  await rig.redis.stop();
  await Promise.all([rig.app.close(), rig.tcp.close()]);
}

const tag = (): string => randomBytes(3).toString("hex");

/** One pass through every fault, with traffic throughout. */
async function round(rig: Rig, counts: FaultCounts, log: Log): Promise<void> {
  const r = tag();
  const token = (sub: string, groups: string[]) =>
    rig.issuer.token({ sub: `${sub}-${r}`, sid: `${sub}-${r}-${tag()}`, email: `${sub}-${r}@example.test`, groups });
  const subject = (s: string) => `${s}-${r}`;
  const tokens = {
    alice: await token("alice", ["staff"]),
    bob: await token("bob", ["contractors"]),
    mallory: await token("mallory", ["staff"]),
    trudy: await token("trudy", ["staff"]),
    carolOld: await token("carol", ["staff"]),
    eve: await token("eve", ["staff"]),
    oscar: await token("oscar", ["staff"]),
  };
  const oscarSession = await sessionIdOf(rig, tokens.oscar);
  // Flows that must survive everything, and eve's that must end with her termination.
  const aliceFlows = await Promise.all(rig.sidecars.map((s) => openTunnel(s.port, rig.tcp.port, tokens.alice)));
  const eveFlows = await Promise.all(rig.sidecars.map((s) => openTunnel(s.port, rig.tcp.port, tokens.eve)));
  const eveClosed = new Set<Socket>();
  for (const f of aliceFlows) f.once("close", () => counts.allowedFlowsReset++);
  for (const f of eveFlows) f.once("close", () => eveClosed.add(f));

  const terminate = (name: string, target: Record<string, string>, extra: Record<string, unknown> = {}) =>
    rig.objects.createTermination(rig.ns, `${name}-${r}`, { target, reason: "fault suite", revokeFor: "1h", ...extra });
  await terminate("cut-mallory", { subject: subject("mallory") });
  await terminate("cut-trudy", { subject: subject("trudy") }, { ttlSecondsAfterFinished: 1 });
  await terminate("cut-carol", { subject: subject("carol") });
  await terminate("cut-oscar", { sessionID: oscarSession });
  await waitCompleted(rig, [`cut-mallory-${r}`, `cut-trudy-${r}`, `cut-carol-${r}`, `cut-oscar-${r}`]);
  // A new login is legitimate once its token's iat (whole seconds) is past the cutoff: creation (whole seconds) + the
  // 1 s clock-skew allowance, so from the second after that.
  const carolCut = await rig.objects.getTermination(rig.ns, `cut-carol-${r}`);
  const acceptedFrom = Date.parse(carolCut?.metadata.creationTimestamp ?? "") + 2_000;
  await new Promise((res) => setTimeout(res, Math.max(0, acceptedFrom - Date.now()) + 50));
  const carolNew = await token("carol", ["staff"]);
  const carolFlow = await openTunnel(rig.sidecars[0]!.port, rig.tcp.port, carolNew);
  carolFlow.once("close", () => counts.legitimateRefused++);

  const traffic = startTraffic(rig, counts, [
    { token: tokens.alice, expect: "allowed" },
    { token: tokens.bob, expect: "denied" },
    { token: tokens.mallory, expect: "revoked" },
    { token: tokens.trudy, expect: "revoked" },
    { token: tokens.carolOld, expect: "revoked" },
    { token: carolNew, expect: "allowed" },
    { token: tokens.oscar, expect: "revoked" },
  ]);
  try {
    log(`round ${r}: pause Redis 3 s`);
    rig.redis.pause();
    await new Promise((res) => setTimeout(res, 3_000));
    rig.redis.resume();
    await settle(rig);

    log(`round ${r}: kill Redis, start an empty one`);
    await restartEmpty(rig);
    await settle(rig);
    log(`round ${r}: a sidecar started after the loss (nothing cached) refuses the revoked session by its key`);
    const late = await rig.startSidecar(`late-${r}`);
    try {
      await late.waitReady(30_000);
      for (const t of [tokens.oscar, tokens.mallory]) await probe(late, { token: t, expect: "revoked" }, counts);
    } finally {
      await late.stop();
    }

    log(`round ${r}: kill Redis while a termination is created`);
    await rig.redis.stop();
    const eveCreated = await terminate("cut-eve", { subject: subject("eve") });
    await new Promise((res) => setTimeout(res, 1_000));
    await rig.redis.start();
    const eveDone = await waitCompleted(rig, [`cut-eve-${r}`]);
    await eventually(() => {
      if (eveClosed.size !== eveFlows.length) throw new Error("eve's flows not all closed");
    }, 20_000);
    const status = eveDone[0]?.status;
    const truthful =
      status?.connectionsClosed === eveFlows.length && status.sidecarsAcknowledged === rig.sidecars.length && status.sidecarsExpected === rig.sidecars.length;
    if (!truthful) {
      counts.untruthfulTerminations++;
      log(
        `round ${r}: eve's termination (${eveCreated.metadata.name ?? ""}) says ${JSON.stringify(status)}; observed ${eveClosed.size} of ${eveFlows.length} flows closed`,
      );
    }
    await settle(rig);

    log(`round ${r}: corrupt key types`);
    const keys = busKeys(rig.prefix);
    await rig.raw.del(keys.epoch, keys.namespace(rig.ns).head, keys.sidecars);
    await rig.raw.set(keys.epoch, "garbage");
    await rig.raw.set(keys.namespace(rig.ns).head, "garbage");
    await rig.raw.set(keys.sidecars, "garbage");
    await settle(rig);

    log(`round ${r}: forged and replayed bus messages`);
    await forge(rig);
    await new Promise((res) => setTimeout(res, 2_000));
    await settle(rig);
  } finally {
    await traffic.stop();
    for (const f of [...aliceFlows, ...eveFlows, carolFlow]) {
      f.removeAllListeners("close");
      f.destroy();
    }
  }
  // alice's flows still carry data end to end.
  log(`round ${r}: done`);
}

/** The session ID the sidecar gave a token (what the app sees in X-Vigil-Session). */
async function sessionIdOf(rig: Rig, token: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${rig.sidecars[0]!.port}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  const headers = rig.app.seen.at(-1)?.rawHeaders ?? [];
  const i = headers.findIndex((h) => h.toLowerCase() === "x-vigil-session");
  const id = headers[i + 1];
  if (i < 0 || id === undefined) throw new Error(`no session ID seen (status ${res.status})`);
  return id;
}

async function restartEmpty(rig: Rig): Promise<void> {
  await rig.redis.stop();
  await rig.redis.start();
}

/** The bus is back and both sidecars are on the current epoch (their heartbeats say so). */
async function settle(rig: Rig): Promise<void> {
  const keys = busKeys(rig.prefix);
  await eventually(async () => {
    const epoch = await rig.raw.hget(keys.epoch, "id");
    if (epoch === null) throw new Error("no epoch yet");
    const beats = Object.values(await rig.raw.hgetall(keys.sidecars)).map((b) => JSON.parse(b) as { epoch: string });
    if (beats.length < rig.sidecars.length || beats.some((b) => b.epoch !== epoch)) throw new Error("sidecars not on the current epoch yet");
  }, 30_000);
}

async function waitCompleted(rig: Rig, names: string[]) {
  return eventually(async () => {
    const all = await Promise.all(names.map((n) => rig.objects.getTermination(rig.ns, n)));
    for (const t of all) if (t?.status?.phase !== "Completed") throw new Error(`${t?.metadata.name ?? "?"} is ${t?.status?.phase ?? "absent"}`);
    return all;
  }, 40_000);
}

/** A rogue with write access to Redis: forged grants for contractors, replayed old events, a forged entry. */
async function forge(rig: Rig): Promise<void> {
  const keys = busKeys(rig.prefix).namespace(rig.ns);
  const epoch = (await rig.raw.hget(busKeys(rig.prefix).epoch, "id")) ?? "";
  const revision = Number(await rig.raw.hget(keys.head, "revision"));
  const open = { ...compiledIn(rig.ns, "open", withSelector({})), hash: "e".repeat(64) };
  const grant = (rev: number): EventBody => ({
    v: 2,
    type: "event",
    epoch,
    namespace: rig.ns,
    revision: rev,
    prev: rev - 1,
    changes: [{ op: "put", entry: { v: 2, epoch, namespace: rig.ns, revision: rev, type: "policy", policy: open } }],
  });
  const stranger = newBusKey("k1");
  await rig.raw.xadd(keys.events, "*", "m", JSON.stringify(grant(revision + 1)));
  await rig.raw.xadd(keys.events, "*", "m", seal(grant(revision + 1), { kid: "k1", privateKey: stranger.privateKey }).envelope);
  for (const [, fields] of (await rig.raw.xrange(keys.events, "-", "+")).slice(0, 3)) await rig.raw.xadd(keys.events, "*", "m", fields[1] ?? "");
  await rig.raw.hset(
    keys.entries,
    "p:open",
    seal({ v: 2, epoch, namespace: rig.ns, revision, type: "policy", policy: open }, { kid: "k1", privateKey: stranger.privateKey }).envelope,
  );
}

interface Probe {
  token: string;
  expect: "allowed" | "denied" | "revoked";
}

function startTraffic(rig: Rig, counts: FaultCounts, probes: Probe[]): { stop(): Promise<void> } {
  let running = true;
  const loop = async (): Promise<void> => {
    let i = 0;
    while (running) {
      const sidecar = rig.sidecars[i % rig.sidecars.length]!;
      await Promise.all(probes.map((p) => probe(sidecar, p, counts)));
      i++;
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  const done = loop();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

async function probe(sidecar: SidecarProcess, p: Probe, counts: FaultCounts): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${sidecar.port}/orders`, { headers: { authorization: `Bearer ${p.token}` }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
  } catch {
    counts.serverErrors++; // no answer at all
    return;
  }
  counts.requests++;
  if (res.status === 503 && res.headers.get("retry-after") !== null) {
    counts.retryable++;
    return;
  }
  if (res.status >= 500) {
    counts.serverErrors++;
    return;
  }
  if (p.expect === "allowed" && res.status !== 200) counts.legitimateRefused++;
  if (p.expect === "revoked" && res.status === 200) counts.revokedAdmitted++;
  if (p.expect === "denied" && res.status === 200) counts.forgedGrantsAdmitted++;
}

export function report(counts: FaultCounts): string {
  const target = (k: keyof FaultCounts): string => (ZERO_TARGETS.includes(k) ? ` (target 0: ${counts[k] === 0 ? "yes" : "no"})` : "");
  return (Object.keys(counts) as (keyof FaultCounts)[]).map((k) => `  ${k.padEnd(24)} ${String(counts[k]).padStart(7)}${target(k)}`).join("\n");
}

export { echo };
