import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusPublisher } from "../../../operator/bus/publisher.ts";
import { withGeneration } from "../../builders/access-policy.ts";
import { ack, compiledIn, heartbeat, revocation } from "../../builders/bus.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, eventually, publisherOn, sidecarClient, startTail, uniquePrefix } from "./support.ts";

let connections: Connections;
let redis: Redis;

beforeAll(() => {
  connections = new Connections(clusterEnv().redisUrl);
  redis = connections.raw();
});

afterAll(async () => {
  await connections.closeAll();
});

function setup(): { prefix: string; publisher: BusPublisher } {
  const prefix = uniquePrefix();
  return { prefix, publisher: publisherOn(connections, prefix) };
}

describe("BusClient: snapshot then tail", () => {
  it("loads the snapshot, then receives every change in revision order", async () => {
    const { prefix, publisher } = setup();
    await publisher.upsertPolicy(compiledIn("shop", "web"));
    await publisher.publishTermination(revocation({ expiresAt: Date.now() + 60_000 }));
    const sidecar = startTail(sidecarClient(connections, prefix));
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      expect(sidecar.snapshots[0]).toMatchObject({ revision: 2, invalid: 0 });
      expect(sidecar.snapshots[0]?.policies.map((p) => p.policy.name)).toEqual(["web"]);
      expect(sidecar.snapshots[0]?.revocations.map((r) => r.id)).toEqual([revocation().id]);

      await publisher.upsertPolicy(compiledIn("shop", "api"));
      await publisher.deletePolicy("shop", "web");
      await eventually(() => { expect(sidecar.events.map((e) => `${e.type}@${e.revision}`)).toEqual(["policy.upsert@3", "policy.delete@4"]); });
      expect(sidecar.client.position?.revision).toBe(4);
      expect(sidecar.client.lastContactAt).toBeGreaterThan(Date.now() - 5000);
      expect(sidecar.client.snapshotReloads).toBe(1);
    } finally {
      await sidecar.stop();
    }
  });

  it("leaves expired revocations out of the snapshot", async () => {
    const { prefix, publisher } = setup();
    await publisher.publishTermination(revocation({ id: "a/old/1", expiresAt: Date.now() - 1 }));
    await publisher.publishTermination(revocation({ id: "a/new/2", expiresAt: Date.now() + 60_000 }));
    const snapshot = await sidecarClient(connections, prefix).loadSnapshot();
    expect(snapshot.revocations.map((r) => r.id)).toEqual(["a/new/2"]);
  });

  it("stops promptly when aborted", async () => {
    const { prefix } = setup();
    const sidecar = startTail(sidecarClient(connections, prefix, 30_000));
    await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
    const started = Date.now();
    await sidecar.stop();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("BusClient: gaps", () => {
  it("resuming after its position was trimmed away reloads the snapshot", async () => {
    const { prefix, publisher } = setup();
    const client = sidecarClient(connections, prefix);
    const first = startTail(client);
    await publisher.upsertPolicy(compiledIn("shop", "web"));
    await eventually(() => { expect(first.events).toHaveLength(1); });
    await first.stop();

    for (let generation = 2; generation <= 4; generation++) {
      await publisher.upsertPolicy(compiledIn("shop", "web", withGeneration(generation)));
    }
    await redis.xtrim(`${prefix}events`, "MAXLEN", 0);

    const second = startTail(client);
    try {
      await eventually(() => { expect(second.snapshots).toHaveLength(1); });
      expect(client.snapshotReloads).toBe(2);
      expect(second.snapshots[0]?.policies[0]?.policy.generation).toBe(4);
      expect(client.position?.revision).toBe(4);
      await publisher.upsertPolicy(compiledIn("shop", "web", withGeneration(5)));
      await eventually(() => { expect(second.events.map((e) => e.revision)).toEqual([5]); });
    } finally {
      await second.stop();
    }
  });

  it("resuming with nothing missed continues from the stream without a reload", async () => {
    const { prefix, publisher } = setup();
    const client = sidecarClient(connections, prefix);
    const first = startTail(client);
    await eventually(() => { expect(first.snapshots).toHaveLength(1); });
    await first.stop();
    await publisher.upsertPolicy(compiledIn("shop", "web"));
    const second = startTail(client);
    try {
      await eventually(() => { expect(second.events.map((e) => e.revision)).toEqual([1]); });
      expect(second.snapshots).toHaveLength(0);
      expect(client.snapshotReloads).toBe(1);
    } finally {
      await second.stop();
    }
  });

  it("a slow consumer whose unread entries are trimmed detects the gap and reloads", async () => {
    const { prefix, publisher } = setup();
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let blockedOnce = false;
    const sidecar = startTail(sidecarClient(connections, prefix), {
      onEvent: async () => {
        if (!blockedOnce) {
          blockedOnce = true;
          await blocked;
        }
      },
    });
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      await publisher.upsertPolicy(compiledIn("shop", "web"));
      await eventually(() => { expect(sidecar.events).toHaveLength(1); });
      await publisher.upsertPolicy(compiledIn("shop", "api"));
      await publisher.upsertPolicy(compiledIn("shop", "db"));
      await redis.xtrim(`${prefix}events`, "MAXLEN", 0);
      release();
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(2); });
      expect(sidecar.snapshots[1]?.policies.map((p) => p.policy.name).sort()).toEqual(["api", "db", "web"]);
      expect(sidecar.client.position?.revision).toBe(3);
    } finally {
      release();
      await sidecar.stop();
    }
  });

  it("a revision that jumps (Redis restarted and re-filled by the operator) reloads the snapshot", async () => {
    const { prefix, publisher } = setup();
    const sidecar = startTail(sidecarClient(connections, prefix));
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      await redis.set(`${prefix}revision`, "100");
      await publisher.upsertPolicy(compiledIn("shop", "web"));
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(2); });
      expect(sidecar.events).toEqual([]);
      expect(sidecar.snapshots[1]?.revision).toBe(101);
    } finally {
      await sidecar.stop();
    }
  });
});

describe("BusClient: a rogue writer", () => {
  it("garbage on the stream and in the hashes is skipped and counted; valid changes still flow", async () => {
    const { prefix, publisher } = setup();
    await publisher.upsertPolicy(compiledIn("shop", "web"));
    await redis.hset(`${prefix}policies`, "shop/evil", "{not json", "shop/alias", JSON.stringify({ v: 1, revision: 1, policy: compiledIn("shop", "web") }));
    await redis.hset(`${prefix}revocations`, "x/y/z", JSON.stringify({ v: 9 }));
    const sidecar = startTail(sidecarClient(connections, prefix));
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      expect(sidecar.snapshots[0]?.invalid).toBe(3);
      expect(sidecar.snapshots[0]?.policies.map((p) => p.policy.name)).toEqual(["web"]);

      const events = `${prefix}events`;
      await redis.xadd(events, "*", "m", "garbage");
      await redis.xadd(events, "*", "m", JSON.stringify({ v: 2, type: "policy.delete" }));
      await redis.xadd(events, "*", "m", JSON.stringify({ v: 1, type: "policy.nuke", revision: 2 }));
      await redis.xadd(events, "*", "m", '{"v":1,"type":"policy.delete","revision":2,"namespace":"a","name":"b","__proto__":{"x":1}}');
      await redis.xadd(events, "*", "other", "field");
      await redis.xadd(events, "*", "m", "x".repeat(2 * 1024 * 1024));
      await publisher.upsertPolicy(compiledIn("shop", "api"));

      await eventually(() => { expect(sidecar.events.map((e) => e.revision)).toEqual([2]); });
      expect(sidecar.client.invalidMessages).toBe(3 + 6);
      expect(sidecar.snapshots).toHaveLength(1);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    } finally {
      await sidecar.stop();
    }
  });
});

describe("BusClient: failing handlers", () => {
  it("a change the sidecar failed to apply is recovered from a fresh snapshot, never skipped", async () => {
    const { prefix, publisher } = setup();
    let snapshotFailures = 1;
    let eventFailures = 1;
    const sidecar = startTail(sidecarClient(connections, prefix), {
      onSnapshot: () => {
        if (snapshotFailures-- > 0) throw new Error("not ready yet");
      },
      onEvent: () => {
        if (eventFailures-- > 0) throw new Error("apply failed");
      },
    });
    try {
      await eventually(() => {
        expect(sidecar.snapshots).toHaveLength(2);
      });
      await publisher.upsertPolicy(compiledIn("shop", "web"));
      await eventually(() => {
        expect(sidecar.snapshots).toHaveLength(3);
      });
      expect(sidecar.snapshots[2]?.policies.map((p) => p.policy.name)).toEqual(["web"]);
      expect(sidecar.client.handlerErrors).toBe(2);
      expect(sidecar.client.redisErrors).toBe(0);
      expect(sidecar.client.position?.revision).toBe(1);
    } finally {
      await sidecar.stop();
    }
  });
});

describe("BusClient: connection loss", () => {
  it("reconnects after CLIENT KILL, reloads the snapshot and keeps tailing", async () => {
    const { prefix, publisher } = setup();
    const { commands, blocking } = connections.open(`sidecar-${prefix.slice(5, 11)}`);
    const { BusClient } = await import("../../../operator/api/bus-client.ts");
    const client = new BusClient({ redis: commands, blocking, prefix, blockMs: 300, retryMinMs: 20, retryMaxMs: 200 });
    const sidecar = startTail(client);
    try {
      await eventually(() => { expect(sidecar.snapshots).toHaveLength(1); });
      const list = (await redis.call("CLIENT", "LIST")) as string;
      const ids = list
        .split("\n")
        .filter((line) => line.includes(`name=sidecar-${prefix.slice(5, 11)}`))
        .map((line) => /\bid=(\d+)/u.exec(line)?.[1])
        .filter((id) => id !== undefined);
      expect(ids).toHaveLength(2);
      for (const id of ids) await redis.call("CLIENT", "KILL", "ID", id);

      await publisher.upsertPolicy(compiledIn("shop", "web"));
      await eventually(() => { expect(sidecar.snapshots.length).toBeGreaterThanOrEqual(2); });
      await publisher.upsertPolicy(compiledIn("shop", "api"));
      await eventually(() => { expect(client.position?.revision).toBe(2); });
      const names = sidecar.snapshots.at(-1)!.policies.map((p) => p.policy.name);
      const seen = new Set([...names, ...sidecar.events.filter((e) => e.type === "policy.upsert").map((e) => e.policy.name)]);
      expect([...seen].sort()).toEqual(["api", "web"]);
    } finally {
      await sidecar.stop();
    }
  });
});

describe("sidecar registry", () => {
  it("heartbeats round-trip to the operator's live-sidecar list, stale ones excluded", async () => {
    const { prefix, publisher } = setup();
    const client = sidecarClient(connections, prefix);
    const now = Date.now();
    await client.heartbeat(heartbeat({ pod: "web-0", at: now }));
    await client.heartbeat(heartbeat({ pod: "web-1", at: now - 120_000 }));
    await redis.hset(`${prefix}sidecars`, "default/rogue", "{}");
    expect(await publisher.liveSidecars(now, 30_000)).toEqual([heartbeat({ pod: "web-0", at: now })]);
    expect(await publisher.pruneSidecars(now, 30_000)).toBe(2);
    expect(await redis.hkeys(`${prefix}sidecars`)).toEqual(["default/web-0"]);
  });

  it("acks round-trip with their counts and expire", async () => {
    const { prefix, publisher } = setup();
    const client = sidecarClient(connections, prefix);
    await client.ack(ack({ pod: "web-0", sessionsTerminated: 1, connectionsClosed: 3 }));
    await client.ack(ack({ pod: "web-1", sessionsTerminated: 0, connectionsClosed: 0 }));
    await redis.hset(`${prefix}acks:${ack().terminationId}`, "default/forged", JSON.stringify(ack({ pod: "someone-else" })));
    const acks = await publisher.readAcks(ack().terminationId);
    expect(acks.map((a) => [a.pod, a.sessionsTerminated, a.connectionsClosed]).sort()).toEqual([
      ["web-0", 1, 3],
      ["web-1", 0, 0],
    ]);
    expect(publisher.invalidMessages).toBe(1);
    const ttl = await redis.ttl(`${prefix}acks:${ack().terminationId}`);
    expect(ttl).toBeGreaterThan(0);
  });

  it("heartbeat and ack reject with a coded error when Redis is unreachable", async () => {
    const { BusClient } = await import("../../../operator/api/bus-client.ts");
    const { createBusRedis } = await import("../../../lib/redis.ts");
    const dead = createBusRedis({ url: "redis://127.0.0.1:1", maxRetriesPerRequest: 0 });
    try {
      const client = new BusClient({ redis: dead.commands, blocking: dead.blocking });
      await expect(client.heartbeat(heartbeat())).rejects.toMatchObject({ code: "BUS_UNAVAILABLE" });
      await expect(client.ack(ack())).rejects.toMatchObject({ code: "BUS_UNAVAILABLE" });
      expect(await dead.ready(500)).toBe(false);
    } finally {
      await dead.close();
    }
  });
});
