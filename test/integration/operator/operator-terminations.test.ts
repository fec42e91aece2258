/**
 * SessionTermination lifecycle through vigil-operator (a real process), with sidecar stand-ins speaking the real
 * bus contract: durable revocation record + one stream event, Completed with summed counts when every live
 * sidecar acknowledged, Failed naming the one that never answers, a vanished sidecar not waited for,
 * ttlSecondsAfterFinished, and a re-created termination of the same name being a new termination.
 */
import { EventsV1Api } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { SessionTermination } from "../../../operator/api/v1alpha1/index.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig, uniqueName } from "./kube-support.ts";
import type { EventBody } from "../../../operator/api/bus/messages.ts";
import { applyVigilCrds, busEvents, busRevocations, OperatorProcess, StandIn, vigilObjects } from "./operator-support.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const objects = vigilObjects(kc);
const connections = new Connections(env.redisUrl);
const prefix = uniquePrefix();
let redis: Redis;
let ns: string;
let operator: OperatorProcess;
let standIns: StandIn[] = [];

beforeAll(async () => {
  await applyVigilCrds(env);
  ns = await createNamespace(env);
  redis = connections.raw();
  operator = await OperatorProcess.start(env, {
    redisUrl: env.redisUrl,
    prefix,
    namespace: ns,
    identity: uniqueName("op"),
    terminationTimeoutSeconds: 5,
    heartbeatMaxAgeSeconds: 2,
  });
  await operator.waitUntilLeading();
});

afterEach(async () => {
  await Promise.all(standIns.map((s) => s.stop()));
  standIns = [];
  await redis.del(`${prefix}sidecars`); // the stand-ins' pods are gone
});

afterAll(async () => {
  await operator.stop();
  await connections.closeAll();
});

function sidecars(...specs: { pod: string; sessions?: number; connections?: number; acks?: boolean }[]): StandIn[] {
  const created = specs.map((s) => new StandIn(connections, prefix, { namespace: ns, ...s }));
  standIns.push(...created);
  return created;
}

async function allLive(count: number): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(await redis.hlen(`${prefix}sidecars`)).toBe(count);
    },
    { timeout: 5_000, interval: 50 },
  );
}

async function waitForPhase(name: string, phases: string[], timeout = 20_000): Promise<SessionTermination> {
  return vi.waitFor(
    async () => {
      const t = await objects.getTermination(ns, name);
      if (t?.status?.phase === undefined || !phases.includes(t.status.phase)) throw new Error(`phase ${t?.status?.phase ?? "none"}`);
      return t;
    },
    { timeout, interval: 100 },
  );
}

/** Events that put the revocation `id` (its publication, and its lift). */
async function terminationEvents(id: string): Promise<EventBody[]> {
  return (await busEvents(redis, prefix, ns)).filter(
    (e): e is EventBody => e?.changes.some((c) => c.op === "put" && c.entry.type === "revocation" && c.entry.revocation.id === id) === true,
  );
}

async function eventReasons(name: string): Promise<string[]> {
  const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
  return list.items.filter((e) => e.regarding?.name === name).map((e) => e.reason ?? "");
}

describe("SessionTermination lifecycle", () => {
  it("writes the revocation record and one event, then completes once every sidecar acknowledged, with summed counts", async () => {
    sidecars({ pod: "web-0", sessions: 1, connections: 2 }, { pod: "web-1", sessions: 2, connections: 3 }, { pod: "api-0", sessions: 0, connections: 1 });
    await allLive(3);
    const created = await objects.createTermination(ns, "cut-alice", { target: { email: "Alice@Example.com" }, reason: "laptop stolen", revokeFor: "12h" });
    const done = await waitForPhase("cut-alice", ["Completed", "Failed"]);
    const id = `${ns}/cut-alice/${created.metadata.uid ?? ""}`;

    expect(done.status).toMatchObject({ phase: "Completed", sidecarsExpected: 3, sidecarsAcknowledged: 3, sessionsTerminated: 3, connectionsClosed: 6 });
    expect(done.status?.startTime).toBeDefined();
    expect(done.status?.completionTime).toBeDefined();
    expect(done.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "AllAcknowledged" });

    const entry = (await busRevocations(redis, prefix, ns)).get(id);
    const createdAt = Date.parse(created.metadata.creationTimestamp ?? "");
    expect(entry).toMatchObject({ v: 2, namespace: ns, revision: done.status?.busRevision });
    expect(entry?.liftedAt).toBeUndefined();
    expect(entry?.revocation).toEqual({
      id,
      namespace: ns,
      selector: { kind: "email", email: "alice@example.com" },
      reason: "laptop stolen",
      tokensIssuedBefore: createdAt + 5_000, // the default clock-skew allowance
      expiresAt: createdAt + 12 * 3_600_000,
    });
    expect(await terminationEvents(id)).toMatchObject([{ type: "event", revision: done.status?.busRevision, changes: [{ op: "put", entry }] }]);
    await vi.waitFor(
      async () => {
        expect(await eventReasons("cut-alice")).toContain("Completed");
      },
      { timeout: 5_000 },
    );
  });

  it("fails after the timeout naming the sidecar that heartbeats but never acknowledges, and keeps the others' counts", async () => {
    sidecars({ pod: "web-0", sessions: 1, connections: 1 }, { pod: "web-1", sessions: 1, connections: 4 }, { pod: "stuck-0", acks: false });
    await allLive(3);
    await objects.createTermination(ns, "cut-bob", { target: { subject: "bob" }, reason: "offboarding" });
    const propagating = await waitForPhase("cut-bob", ["Propagating"]);
    expect(propagating.status).toMatchObject({ sidecarsExpected: 3 });
    const failed = await waitForPhase("cut-bob", ["Completed", "Failed"]);
    expect(failed.status).toMatchObject({
      phase: "Failed",
      unresponsiveSidecars: [`${ns}/stuck-0`],
      sidecarsExpected: 3,
      sidecarsAcknowledged: 2,
      sessionsTerminated: 2,
      connectionsClosed: 5,
    });
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "AcknowledgementTimeout" });
    expect(Date.parse(failed.status?.completionTime ?? "") - Date.parse(failed.status?.startTime ?? "")).toBeGreaterThanOrEqual(4_000);
  });

  it("does not wait for an expected sidecar whose pod went away (heartbeat stopped)", async () => {
    const [, leaving] = sidecars({ pod: "web-0" }, { pod: "leaving-0", acks: false });
    await allLive(2);
    await objects.createTermination(ns, "cut-carol", { target: { group: "contractors" }, reason: "contract ended" });
    await waitForPhase("cut-carol", ["Propagating"]);
    leaving?.stopHeartbeats();
    const done = await waitForPhase("cut-carol", ["Completed", "Failed"]);
    expect(done.status).toMatchObject({ phase: "Completed", sidecarsExpected: 2, sidecarsAcknowledged: 1 });
    expect(done.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain("went away");
  });

  it("ttlSecondsAfterFinished never deletes a termination while its revocation is in force; the same name again is a new termination", async () => {
    sidecars({ pod: "web-0" });
    await allLive(1);
    const first = await objects.createTermination(ns, "cut-dave", {
      target: { email: "dave@example.com" },
      reason: "phished",
      revokeFor: "4s",
      ttlSecondsAfterFinished: 1,
    });
    const firstId = `${ns}/cut-dave/${first.metadata.uid ?? ""}`;
    const done1 = await waitForPhase("cut-dave", ["Completed", "Failed"]);
    const expiresAt = Date.parse(first.metadata.creationTimestamp ?? "") + 4_000;
    await vi.waitFor(
      async () => {
        expect(await objects.getTermination(ns, "cut-dave")).toBeUndefined();
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt); // not at completionTime + 1 s: only once the revocation expired
    expect(Date.parse(done1.status?.completionTime ?? "") + 1_000).toBeLessThan(expiresAt);

    const second = await objects.createTermination(ns, "cut-dave", { target: { email: "dave@example.com" }, reason: "phished again" });
    const secondId = `${ns}/cut-dave/${second.metadata.uid ?? ""}`;
    expect(secondId).not.toBe(firstId);
    const done = await waitForPhase("cut-dave", ["Completed", "Failed"]);
    expect(done.status?.phase).toBe("Completed");
    expect(await terminationEvents(secondId)).toHaveLength(1);
    expect((await busRevocations(redis, prefix, ns)).get(secondId)?.liftedAt).toBeUndefined();
  });

  it("deleting a termination lifts its revocation with a signed lift; sidecars stop holding it", async () => {
    const [sidecar] = sidecars({ pod: "web-0" });
    await allLive(1);
    const created = await objects.createTermination(ns, "cut-frank", { target: { email: "frank@example.com" }, reason: "mistake" });
    const id = `${ns}/cut-frank/${created.metadata.uid ?? ""}`;
    await waitForPhase("cut-frank", ["Completed"]);
    expect(sidecar?.view.hasRevocation(id)).toBe(true);
    await objects.deleteTermination(ns, "cut-frank");
    await vi.waitFor(
      async () => {
        expect((await busRevocations(redis, prefix, ns)).get(id)?.liftedAt).toBeGreaterThan(0);
        expect(sidecar?.view.hasRevocation(id)).toBe(false);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("re-reconciling a termination publishes nothing new", async () => {
    const before = await busEvents(redis, prefix, ns);
    await objects.createTermination(ns, "cut-erin", { target: { email: "erin@example.com" }, reason: "test" });
    const done = await waitForPhase("cut-erin", ["Completed", "Failed"]);
    await kc.makeApiClient((await import("@kubernetes/client-node")).CustomObjectsApi).patchNamespacedCustomObject({
      group: "vigil.dev",
      version: "v1alpha1",
      plural: "sessionterminations",
      namespace: ns,
      name: "cut-erin",
      body: [{ op: "add", path: "/metadata/labels", value: { touched: "yes" } }],
    });
    // A second termination created after the label change: once the operator has handled it, it has handled the
    // label change too (one watch delivers both, in order).
    await objects.createTermination(ns, "cut-sentinel", { target: { email: "sentinel@example.com" }, reason: "test" });
    await waitForPhase("cut-sentinel", ["Completed", "Failed"]);
    const after = (await busEvents(redis, prefix, ns)).filter(
      (e) => e?.changes.some((c) => c.op === "put" && c.entry.type === "revocation" && c.entry.revocation.id.startsWith(`${ns}/cut-sentinel/`)) !== true,
    );
    expect(after).toHaveLength(before.length + 1);
    expect((await objects.getTermination(ns, "cut-erin"))?.status).toEqual(done.status);
  });
});
