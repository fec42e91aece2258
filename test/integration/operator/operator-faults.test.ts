/**
 * vigil-operator under faults, with real processes: killed (SIGKILL) in the middle of a termination → the next
 * leader finishes it exactly once; Redis FLUSHALL → the bus is repaired from the resources within one resync; two
 * replicas → one leader, and failover within the lease when the leader is killed.
 * Uses a private redis-server (FLUSHALL must not touch other tests' keys).
 */
import { CoordinationV1Api, EventsV1Api } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TERMINATION_PLAN_ANNOTATION } from "../../../operator/api/annotations.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, PrivateRedis, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig } from "./kube-support.ts";
import { applyVigilCrds, busEvents, busPolicies, busRevocations, OperatorProcess, StandIn, staffOnly, vigilObjects } from "./operator-support.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const objects = vigilObjects(kc);
const privateRedis = new PrivateRedis();
const prefix = uniquePrefix();
const RESYNC_SECONDS = 5;
/** A killed leader's lease expires in 3 s: the failover these tests time. */
const FAST_FAILOVER = { durationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 };
let connections: Connections;
let redis: Redis;
let ns: string;
const operators: OperatorProcess[] = [];
const standIns: StandIn[] = [];

beforeAll(async () => {
  await applyVigilCrds(env);
  await privateRedis.start();
  connections = new Connections(privateRedis.url);
  redis = connections.raw();
  ns = await createNamespace(env);
});

afterAll(async () => {
  await Promise.all(standIns.map((s) => s.stop()));
  await Promise.all(operators.map((o) => o.stop()));
  await connections.closeAll();
  await privateRedis.stop();
});

async function operator(identity: string): Promise<OperatorProcess> {
  const op = await OperatorProcess.start(env, {
    redisUrl: privateRedis.url,
    prefix,
    namespace: ns,
    identity,
    resyncSeconds: RESYNC_SECONDS,
    heartbeatMaxAgeSeconds: 3,
    lease: FAST_FAILOVER,
  });
  operators.push(op);
  return op;
}

/** Resolves once the operators' Lease has been renewed `times` more times (its holder kept leading meanwhile). */
async function leaseRenewed(times: number): Promise<void> {
  const leases = kc.makeApiClient(CoordinationV1Api);
  const versions = new Set<string>();
  await vi.waitFor(
    async () => {
      versions.add((await leases.readNamespacedLease({ name: "vigil-operator", namespace: ns })).metadata?.resourceVersion ?? "");
      expect(versions.size).toBeGreaterThan(times);
    },
    { timeout: (times + 2) * 2_000, interval: 100 },
  );
}

describe("vigil-operator under faults", () => {
  it("killed mid-termination, the next operator completes it exactly once", async () => {
    const first = await operator("op-a");
    await first.waitUntilLeading();
    const fast = new StandIn(connections, prefix, { namespace: ns, pod: "web-0", sessions: 2, connections: 2 });
    const slow = new StandIn(connections, prefix, { namespace: ns, pod: "web-1", sessions: 1, connections: 3, acks: false });
    standIns.push(fast, slow);
    await vi.waitFor(
      async () => {
        expect(await redis.hlen(`${prefix}sidecars`)).toBe(2);
      },
      { timeout: 5_000 },
    );
    const created = await objects.createTermination(ns, "cut-mallory", { target: { subject: "mallory" }, reason: "compromised" });
    const id = `${ns}/cut-mallory/${created.metadata.uid ?? ""}`;
    const propagating = await vi.waitFor(
      async () => {
        const t = await objects.getTermination(ns, "cut-mallory");
        if (t?.status?.phase !== "Propagating" || t.status.sidecarsAcknowledged !== 1) throw new Error("not propagating yet");
        return t;
      },
      { timeout: 15_000, interval: 100 },
    );

    first.kill("SIGKILL");
    await first.exited;
    slow.startAcking();
    const second = await operator("op-b");
    const done = await vi.waitFor(
      async () => {
        const t = await objects.getTermination(ns, "cut-mallory");
        if (t?.status?.phase !== "Completed") throw new Error(`phase ${t?.status?.phase ?? "none"}`);
        return t;
      },
      { timeout: 20_000, interval: 100 },
    );

    expect(second.isLeading()).toBe(true);
    expect(done.status).toMatchObject({ sidecarsExpected: 2, sidecarsAcknowledged: 2, sessionsTerminated: 3, connectionsClosed: 5 });
    expect(done.status?.startTime).toBe(propagating.status?.startTime);
    expect(done.status?.busRevision).toBe(propagating.status?.busRevision);
    expect(done.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]).toBe(propagating.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]);
    const published = (await busEvents(redis, prefix, ns)).filter((e) =>
      e?.changes.some((c) => c.op === "put" && c.entry.type === "revocation" && c.entry.revocation.id === id),
    );
    expect(published).toHaveLength(1);
    // The Completed Event follows the Completed status in the same (last) reconcile: wait for it, then count.
    const reasons = await vi.waitFor(
      async () => {
        const found = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items
          .filter((e) => e.regarding?.name === "cut-mallory")
          .map((e) => e.reason);
        expect(found).toContain("Completed");
        return found;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(reasons.filter((r) => r === "Completed")).toHaveLength(1);
    expect(reasons.filter((r) => r === "Published")).toHaveLength(1);
  });

  it("a FLUSHALL'd Redis is repaired from the resources within one resync, with no human action", async () => {
    await objects.createPolicy(ns, "web", staffOnly);
    const published = await vi.waitFor(
      async () => {
        const p = await objects.getPolicy(ns, "web");
        if (p.status?.busRevision === undefined) throw new Error("not published");
        return p;
      },
      { timeout: 15_000, interval: 100 },
    );
    const policiesBefore = await busPolicies(redis, prefix, ns);
    const revocationsBefore = await busRevocations(redis, prefix, ns);
    const revisionBefore = Number(await redis.get(`${prefix}revision`));
    expect([...revocationsBefore.keys()]).toHaveLength(1);

    await redis.flushall();
    const flushedAt = Date.now();
    await vi.waitFor(
      async () => {
        expect((await busPolicies(redis, prefix, ns)).get("web")?.policy).toEqual(policiesBefore.get("web")?.policy);
        const revocations = await busRevocations(redis, prefix, ns);
        expect([...revocations.keys()]).toEqual([...revocationsBefore.keys()]);
      },
      { timeout: RESYNC_SECONDS * 1000 + 3_000, interval: 100 },
    );
    const repairedMs = Date.now() - flushedAt;
    expect(repairedMs).toBeLessThanOrEqual(RESYNC_SECONDS * 1000 + 3_000);
    expect(Number(await redis.get(`${prefix}revision`))).toBeGreaterThan(revisionBefore);
    expect(published.status?.busRevision).toBeLessThan(Number(await redis.get(`${prefix}revision`)));
  });

  it("two replicas: exactly one leads; killing it hands over within the lease, and the new leader publishes", async () => {
    const [, leader] = operators; // op-b: took over from the killed op-a above
    if (leader === undefined) throw new Error("no running leader");
    const standby = await operator("op-c");
    await standby.waitUntilReady();
    await leaseRenewed(2); // the standby has been trying to acquire while the leader kept renewing
    expect(standby.isLeading()).toBe(false);
    expect(leader.isLeading()).toBe(true);

    leader.kill("SIGKILL");
    await leader.exited;
    const killedAt = Date.now();
    await standby.waitUntilLeading(3_000 + 3_000);
    expect(Date.now() - killedAt).toBeLessThan(3_000 + 3_000);

    await objects.createPolicy(ns, "after-failover", staffOnly);
    await vi.waitFor(
      async () => {
        expect((await busPolicies(redis, prefix, ns)).has("after-failover")).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );
  });

  it("with Redis down a deleted policy keeps its finalizer and says why; once Redis is back it is removed from the bus and released", async () => {
    await objects.createPolicy(ns, "doomed", staffOnly);
    // Published first, then the finalizer is added (perf-0005): a policy deleted before it has one goes at once.
    await vi.waitFor(
      async () => {
        expect((await busPolicies(redis, prefix, ns)).has("doomed")).toBe(true);
        expect((await objects.getPolicy(ns, "doomed")).metadata.finalizers).toContain("vigil.dev/finalizer");
      },
      { timeout: 15_000, interval: 100 },
    );
    await privateRedis.stop();
    await objects.deletePolicy(ns, "doomed");
    const blocked = await vi.waitFor(
      async () => {
        const p = await objects.getPolicy(ns, "doomed");
        const ready = p.status?.conditions?.find((c) => c.type === "Ready");
        if (ready?.reason !== "BusUnavailable") throw new Error("no BusUnavailable yet");
        return p;
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(blocked.metadata.finalizers).toContain("vigil.dev/finalizer");
    expect(blocked.metadata.deletionTimestamp).toBeDefined();
    expect(blocked.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain("finalizer stays");

    await privateRedis.start();
    await vi.waitFor(
      async () => {
        expect(await objects.policyExists(ns, "doomed")).toBe(false);
      },
      { timeout: 30_000, interval: 200 },
    );
    expect((await busPolicies(redis, prefix, ns)).has("doomed")).toBe(false);
    await vi.waitFor(
      async () => {
        expect((await busPolicies(redis, prefix, ns)).has("after-failover")).toBe(true);
      },
      { timeout: RESYNC_SECONDS * 1000 + 5_000, interval: 100 },
    );
  });
});
