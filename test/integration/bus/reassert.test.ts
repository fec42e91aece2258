import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusClient } from "../../../operator/api/bus-client.ts";
import type { CompiledPolicy } from "../../../operator/api/compiled-policy.ts";
import type { BusPublisher, RevocationRecord } from "../../../operator/bus/publisher.ts";
import { withGeneration } from "../../builders/access-policy.ts";
import { compiledIn, revocation } from "../../builders/bus.ts";
import { Connections, eventually, PrivateRedis, publisherOn, sidecarClient, startTail, uniquePrefix } from "./support.ts";

/**
 * Resources are the source of truth: `reassert` makes the bus match them. These tests flush and
 * restart Redis, so they use a private redis-server rather than the run's shared one.
 */

const server = new PrivateRedis();
let connections: Connections;
let redis: Redis;

beforeAll(async () => {
  await server.start();
  connections = new Connections(server.url);
  redis = connections.raw();
});

afterAll(async () => {
  await connections.closeAll();
  await server.stop();
});

const record = (id: string, expiresAt: number): RevocationRecord => {
  const { v, namespace, selector, reason, issuedAt } = revocation();
  return { v, id, namespace, selector, reason, issuedAt, expiresAt };
};

const inOneHour = Date.now() + 3_600_000;

/** What the resources say (the reconciler derives expiresAt from the termination, so it is stable). */
function desiredState(): { policies: CompiledPolicy[]; revocations: RevocationRecord[] } {
  return {
    policies: [compiledIn("shop", "web"), compiledIn("shop", "api"), compiledIn("bank", "vault")],
    revocations: [record("shop/cut-alice/u1", inOneHour)],
  };
}

async function publishAll(publisher: BusPublisher): Promise<void> {
  const { policies, revocations } = desiredState();
  for (const p of policies) await publisher.upsertPolicy(p);
  for (const r of revocations) await publisher.publishTermination(r);
}

async function busView(prefix: string): Promise<{ policies: string[]; revocations: string[] }> {
  const client = new BusClient({ redis, blocking: redis, prefix });
  const snapshot = await client.loadSnapshot();
  return {
    policies: snapshot.policies.map((p) => `${p.policy.namespace}/${p.policy.name}@${p.policy.hash.slice(0, 8)}`).sort(),
    revocations: snapshot.revocations.map((r) => r.id).sort(),
  };
}

describe("BusPublisher.reassert", () => {
  it("repairs everything after FLUSHALL, and never lets the revision go back", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix);
    await publishAll(publisher);
    const before = await busView(prefix);
    const revisionBefore = Number(await redis.get(`${prefix}revision`));

    await redis.flushall();
    const { policies, revocations } = desiredState();
    const report = await publisher.reassert(policies, revocations);

    expect(report.policiesAdded.sort()).toEqual(["bank/vault", "shop/api", "shop/web"]);
    expect(report.revocationsAdded).toEqual(["shop/cut-alice/u1"]);
    expect(report.policiesRemoved).toEqual([]);
    expect(await busView(prefix)).toEqual(before);
    expect(Number(await redis.get(`${prefix}revision`))).toBe(revisionBefore + 4);
    expect(report.revision).toBe(revisionBefore + 4);
  });

  it("is a no-op when the bus already matches", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix);
    await publishAll(publisher);
    const { policies, revocations } = desiredState();
    const report = await publisher.reassert(policies, revocations);
    expect(report).toMatchObject({
      policiesAdded: [],
      policiesUpdated: [],
      policiesRemoved: [],
      revocationsAdded: [],
      revocationsUpdated: [],
      revocationsPruned: [],
      invalidRemoved: 0,
      revision: 4,
    });
    expect(await redis.xlen(`${prefix}events`)).toBe(4);
  });

  it("fixes differing and corrupted entries, removes stale policies and garbage, prunes expired revocations", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix);
    await publishAll(publisher);
    await publisher.upsertPolicy(compiledIn("shop", "deleted-while-operator-was-down"));
    await publisher.publishTermination(record("shop/expired/u2", Date.now() - 1));
    await publisher.publishTermination(record("shop/deleted-termination/u3", Date.now() + 60_000));
    await redis.hset(`${prefix}policies`, "bank/vault", "{corrupted", "rogue", "x");
    await redis.hset(`${prefix}revocations`, "shop/cut-alice/u1", "[]");
    await redis.set(`${prefix}revision`, "not-a-number");

    const { policies, revocations } = desiredState();
    const web2 = compiledIn("shop", "web", withGeneration(2));
    const report = await publisher.reassert([web2, ...policies.slice(1)], revocations);

    expect(report.policiesUpdated.sort()).toEqual(["bank/vault", "shop/web"]);
    expect(report.policiesRemoved).toEqual(["shop/deleted-while-operator-was-down"]);
    expect(report.revocationsUpdated).toEqual(["shop/cut-alice/u1"]);
    expect(report.revocationsPruned).toEqual(["shop/expired/u2"]);
    expect(report.invalidRemoved).toBe(3);
    expect(report.revisionRepaired).toBe(true);

    const client = new BusClient({ redis, blocking: redis, prefix });
    const snapshot = await client.loadSnapshot();
    expect(snapshot.invalid).toBe(0);
    expect(snapshot.policies.map((p) => `${p.policy.name}:${p.policy.generation}`).sort()).toEqual(["api:1", "vault:1", "web:2"]);
    // A revocation whose SessionTermination was deleted stays until it expires.
    expect(snapshot.revocations.map((r) => r.id).sort()).toEqual(["shop/cut-alice/u1", "shop/deleted-termination/u3"]);
    expect(await publisher.reassert([web2, ...policies.slice(1)], revocations)).toMatchObject({ policiesUpdated: [], invalidRemoved: 0 });
  });

  it("repairs a garbage revision key even when nothing else changed", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix);
    await publishAll(publisher);
    await redis.set(`${prefix}revision`, "garbage");
    const { policies, revocations } = desiredState();
    expect(await publisher.reassert(policies, revocations)).toMatchObject({ revisionRepaired: true, revision: 4 });
    expect(await redis.get(`${prefix}revision`)).toBe("4");
  });

  it("after Redis restarts empty, reassert repairs the bus and a tailing sidecar converges on it", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix);
    await publishAll(publisher);
    const sidecar = startTail(sidecarClient(connections, prefix));
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      await server.stop();
      await server.start();
      const { policies, revocations } = desiredState();
      await eventually(() => publisher.reassert(policies, revocations), 20_000);
      await eventually(() => {
        expect(sidecar.client.snapshotReloads).toBeGreaterThanOrEqual(2);
        expect(sidecar.client.position?.revision).toBe(8);
        expect(sidecar.view.policies).toEqual(new Map([["shop/web", 1], ["shop/api", 1], ["bank/vault", 1]]));
        expect(sidecar.view.revocations).toEqual(new Set(["shop/cut-alice/u1"]));
      }, 20_000);
    } finally {
      await sidecar.stop();
    }
  });
});
