/**
 * vigil-operator (a real process) reconciling AccessPolicies onto the real Redis bus, against the real API server:
 * exact snapshot and stream contents for create/update/delete, no new revision for an unchanged spec,
 * Accepted=False for a policy the compiler rejects, sidecar counts from live heartbeats, and a rogue writer.
 */
import { CoreV1Api, EventsV1Api } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AccessPolicy } from "../../../operator/api/v1alpha1/index.ts";
import { compileAccessPolicy } from "../../../operator/policy/compile.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import type { EventBody } from "../../../operator/api/bus/messages.ts";
import type { CompiledPolicy } from "../../../operator/api/compiled-policy.ts";
import { Connections, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig, uniqueName } from "./kube-support.ts";
import { applyVigilCrds, busEvents, busPolicies, OperatorProcess, StandIn, staffOnly, vigilObjects } from "./operator-support.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const objects = vigilObjects(kc);
const connections = new Connections(env.redisUrl);
const prefix = uniquePrefix();
let redis: Redis;
let ns: string;
let operator: OperatorProcess;
const standIns: StandIn[] = [];

beforeAll(async () => {
  await applyVigilCrds(env);
  ns = await createNamespace(env);
  redis = connections.raw();
  operator = await OperatorProcess.start(env, { redisUrl: env.redisUrl, prefix, namespace: ns, identity: uniqueName("op") });
  await operator.waitUntilLeading();
});

afterAll(async () => {
  await Promise.all(standIns.map((s) => s.stop()));
  await operator.stop();
  await connections.closeAll();
});

function condition(p: AccessPolicy, type: string) {
  return p.status?.conditions?.find((c) => c.type === type);
}

async function waitForPolicy(name: string, check: (p: AccessPolicy) => boolean, timeout = 15_000): Promise<AccessPolicy> {
  return vi.waitFor(
    async () => {
      const p = await objects.getPolicy(ns, name);
      if (!check(p)) throw new Error(`policy ${name} not there yet: ${JSON.stringify(p.status)}`);
      return p;
    },
    { timeout, interval: 100 },
  );
}

const published = (generation: number) => (p: AccessPolicy) => p.status?.observedGeneration === generation && condition(p, "Ready")?.status === "True";

/** The event announcing one policy upsert at `revision`. */
function upserted(revision: number, policy: CompiledPolicy): Partial<EventBody> {
  return {
    v: 2,
    type: "event",
    namespace: policy.namespace,
    revision,
    changes: [{ op: "put", entry: { v: 2, type: "policy", namespace: policy.namespace, revision, policy } as never }],
  };
}

describe("AccessPolicy → bus", () => {
  it("a created policy is compiled onto the snapshot and announced once on the stream, and its status says so", async () => {
    await objects.createPolicy(ns, "web", staffOnly);
    const p = await waitForPolicy("web", published(1));
    const expected = compileAccessPolicy(p);
    if (!expected.ok) throw new Error("test policy must compile");
    const revision = p.status?.busRevision ?? -1;

    expect(p.metadata.finalizers).toContain("vigil.dev/finalizer");
    expect(condition(p, "Accepted")).toMatchObject({ status: "True", reason: "Accepted", observedGeneration: 1 });
    expect(condition(p, "Ready")).toMatchObject({ status: "True", reason: "Published" });
    expect((await busPolicies(redis, prefix, ns)).get("web")).toMatchObject({ revision, policy: expected.policy });
    expect(await busEvents(redis, prefix, ns)).toMatchObject([upserted(revision, expected.policy)]);
    expect(await redis.get(`${prefix}revision`)).toBe(String(revision));
  });

  it("a change outside the spec (a label) publishes no new revision", async () => {
    const before = await busEvents(redis, prefix, ns);
    const revision = await redis.get(`${prefix}revision`);
    const reconciles = await operator.reconciles("accesspolicy");
    await objects.patchPolicy(ns, "web", [{ op: "add", path: "/metadata/labels", value: { team: "blue" } }]);
    await operator.reconciledBeyond("accesspolicy", reconciles);
    expect(await busEvents(redis, prefix, ns)).toEqual(before);
    expect(await redis.get(`${prefix}revision`)).toBe(revision);
  });

  it("a spec change publishes the new generation at a new revision", async () => {
    const before = await busEvents(redis, prefix, ns);
    await objects.patchPolicy(ns, "web", [{ op: "add", path: "/spec/rules/-", value: { name: "ops", action: "Allow", identities: [{ group: "ops" }] } }]);
    const p = await waitForPolicy("web", published(2));
    const expected = compileAccessPolicy(p);
    if (!expected.ok) throw new Error("test policy must compile");
    const revision = p.status?.busRevision ?? -1;
    expect(revision).toBeGreaterThan(Number(await redis.get(`${prefix}revision`)) - 1);
    expect((await busPolicies(redis, prefix, ns)).get("web")).toMatchObject({ revision, policy: expected.policy });
    expect(await busEvents(redis, prefix, ns)).toMatchObject([...before, upserted(revision, expected.policy)]);
    expect(expected.policy.generation).toBe(2);
  });

  it("a policy the compiler rejects is Accepted=False with the compiler's reason and never reaches the bus; fixing it publishes it", async () => {
    const before = await busEvents(redis, prefix, ns);
    await objects.createPolicy(ns, "office-hours", {
      selector: { matchLabels: { app: "web" } },
      rules: [{ name: "office", action: "Allow", schedule: { timeZone: "Mars/Olympus_Mons", windows: [{ start: "09:00", end: "17:00" }] } }],
    });
    const rejected = await waitForPolicy("office-hours", (p) => condition(p, "Accepted")?.status === "False");
    expect(condition(rejected, "Accepted")).toMatchObject({ reason: "UnknownTimeZone", observedGeneration: 1 });
    expect(condition(rejected, "Accepted")?.message).toContain("spec.rules[0].schedule.timeZone");
    expect(condition(rejected, "Ready")).toMatchObject({ status: "False", reason: "Rejected" });
    expect((await busPolicies(redis, prefix, ns)).has("office-hours")).toBe(false);
    expect(await busEvents(redis, prefix, ns)).toEqual(before);
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.filter((e) => e.regarding?.name === "office-hours").map((e) => e.reason)).toContain("Rejected");

    await objects.patchPolicy(ns, "office-hours", [{ op: "replace", path: "/spec/rules/0/schedule/timeZone", value: "Europe/Paris" }]);
    const fixed = await waitForPolicy("office-hours", published(2));
    expect(condition(fixed, "Accepted")).toMatchObject({ status: "True", reason: "Accepted" });
    expect((await busPolicies(redis, prefix, ns)).has("office-hours")).toBe(true);
  });

  it("counts the live sidecars the selector matches and those enforcing the published revision; no pod matching is a warning", async () => {
    const p = await waitForPolicy("web", published(2));
    expect(condition(p, "Degraded")).toMatchObject({ status: "True", reason: "NoMatchingPods" });
    standIns.push(new StandIn(connections, prefix, { namespace: ns, pod: "web-0", labels: { app: "web" } }));
    standIns.push(new StandIn(connections, prefix, { namespace: ns, pod: "db-0", labels: { app: "db" } }));
    const core = kc.makeApiClient(CoreV1Api);
    await vi.waitFor(
      () =>
        core.createNamespacedPod({
          namespace: ns,
          body: { metadata: { name: "web-0", labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] } },
        }),
      { timeout: 15_000, interval: 300 },
    );
    const counted = await waitForPolicy(
      "web",
      (x) => x.status?.selectedSidecars === 1 && x.status.enforcingSidecars === 1 && condition(x, "Degraded")?.status === "False",
    );
    expect(condition(counted, "Ready")?.message).toContain("1 of 1 selected live sidecar(s) enforce it");
  });

  it("deleting a policy removes it from the bus first, then releases the object", async () => {
    const before = await busEvents(redis, prefix, ns);
    await objects.deletePolicy(ns, "web");
    await vi.waitFor(
      async () => {
        if (await objects.policyExists(ns, "web")) throw new Error("still there");
      },
      { timeout: 15_000, interval: 100 },
    );
    expect((await busPolicies(redis, prefix, ns)).has("web")).toBe(false);
    const after = await busEvents(redis, prefix, ns);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length)).toMatchObject([
      { v: 2, type: "event", namespace: ns, revision: Number(await redis.get(`${prefix}revision`)), changes: [{ op: "delete", field: "p:web" }] },
    ]);
  });

  it("garbage from a rogue writer on the stream and in the heartbeats is skipped and counted; nothing crashes", async () => {
    const [listener] = standIns;
    if (listener === undefined) throw new Error("stand-in missing");
    const events = busKeys(prefix).namespace(ns).events;
    await redis.xadd(events, "*", "m", "{not json");
    await redis.xadd(events, "*", "m", JSON.stringify({ v: 99, type: "policy.upsert" }));
    await redis.xadd(events, "*", "x", "y");
    await redis.hset(`${prefix}sidecars`, `${ns}/rogue`, "\u0000garbage");
    await redis.hset(
      `${prefix}sidecars`,
      `${ns}/liar`,
      JSON.stringify({ v: 2, pod: "other", namespace: ns, labels: {}, epoch: "", appliedRevision: 1, integrity: "", at: Date.now() }),
    );

    await objects.createPolicy(ns, "after-garbage", staffOnly);
    const p = await waitForPolicy("after-garbage", published(1));
    expect((await busPolicies(redis, prefix, ns)).get("after-garbage")).toMatchObject({ revision: p.status?.busRevision });
    await vi.waitFor(
      () => {
        expect(listener.subscriber.refused).toBeGreaterThan(0);
        expect(listener.appliedRevision).toBe(p.status?.busRevision);
      },
      { timeout: 10_000, interval: 100 },
    );
    await vi.waitFor(
      async () => {
        const line = (await operator.metrics()).split("\n").find((l) => l.startsWith("vigil_operator_bus_invalid_messages "));
        expect(Number(line?.split(" ")[1])).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 200 },
    );
    expect(operator.lines.filter((l) => l["level"] === "fatal")).toEqual([]);
    expect(await fetch(`http://127.0.0.1:${operator.adminPort}/healthz`).then((r) => r.status)).toBe(200);
  });
});
