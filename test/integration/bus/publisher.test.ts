import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusClient } from "../../../operator/api/bus-client.ts";
import { decodeRevocation } from "../../../operator/api/bus-codec.ts";
import type { BusPublisher } from "../../../operator/bus/publisher.ts";
import { withGeneration, withSession } from "../../builders/access-policy.ts";
import { compiledIn, revocation } from "../../builders/bus.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, publisherOn, streamMessages, uniquePrefix } from "./support.ts";

let connections: Connections;
let redis: Redis;

beforeAll(() => {
  connections = new Connections(clusterEnv().redisUrl);
  redis = connections.raw();
});

afterAll(async () => {
  await connections.closeAll();
});

function setup(): { prefix: string; publisher: BusPublisher; reader: BusClient } {
  const prefix = uniquePrefix();
  const { commands, blocking } = connections.open("reader");
  return { prefix, publisher: publisherOn(connections, prefix), reader: new BusClient({ redis: commands, blocking, prefix }) };
}

describe("BusPublisher: policies", () => {
  it("create, update and delete leave exactly the expected snapshot and stream", async () => {
    const { prefix, publisher, reader } = setup();
    const web = compiledIn("shop", "web");
    const api = compiledIn("shop", "api");
    const web2 = compiledIn("shop", "web", withGeneration(2), withSession({ idleTimeout: "5m" }));

    expect(await publisher.upsertPolicy(web)).toEqual({ changed: true, revision: 1 });
    expect(await publisher.upsertPolicy(api)).toEqual({ changed: true, revision: 2 });
    expect(await publisher.upsertPolicy(web2)).toEqual({ changed: true, revision: 3 });
    expect(await publisher.deletePolicy("shop", "api")).toEqual({ changed: true, revision: 4 });

    const snapshot = await reader.loadSnapshot();
    expect(snapshot.revision).toBe(4);
    expect(snapshot.invalid).toBe(0);
    expect(snapshot.policies).toEqual([{ v: 1, revision: 3, policy: web2 }]);
    expect(snapshot.revocations).toEqual([]);

    expect(await streamMessages(redis, prefix)).toEqual([
      { v: 1, type: "policy.upsert", revision: 1, policy: web },
      { v: 1, type: "policy.upsert", revision: 2, policy: api },
      { v: 1, type: "policy.upsert", revision: 3, policy: web2 },
      { v: 1, type: "policy.delete", revision: 4, namespace: "shop", name: "api" },
    ]);
    const [lastId] = ((await redis.call("XREVRANGE", `${prefix}events`, "+", "-", "COUNT", "1")) as [string][])[0]!;
    expect(snapshot.streamId).toBe(lastId);
  });

  it("republishing an unchanged policy is a no-op: no new revision, no event", async () => {
    const { prefix, publisher } = setup();
    await publisher.upsertPolicy(compiledIn("shop", "web"));
    expect(await publisher.upsertPolicy(compiledIn("shop", "web"))).toEqual({ changed: false, revision: 1 });
    expect(await redis.get(`${prefix}revision`)).toBe("1");
    expect(await redis.xlen(`${prefix}events`)).toBe(1);
  });

  it("deleting a policy that is not on the bus changes nothing", async () => {
    const { prefix, publisher } = setup();
    expect(await publisher.deletePolicy("shop", "ghost")).toEqual({ changed: false, revision: 0 });
    expect(await redis.exists(`${prefix}revision`, `${prefix}events`)).toBe(0);
  });

  it("caps the stream approximately at the configured length", async () => {
    const prefix = uniquePrefix();
    const publisher = publisherOn(connections, prefix, 100);
    for (let generation = 1; generation <= 400; generation++) {
      await publisher.upsertPolicy(compiledIn("shop", "web", withGeneration(generation)));
    }
    const length = await redis.xlen(`${prefix}events`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(400);
    expect(await redis.get(`${prefix}revision`)).toBe("400");
  });

  it("never goes below its revision floor (a Redis that lost its revision keeps counting up)", async () => {
    const { prefix, publisher } = setup();
    publisher.raiseRevisionFloor(41);
    expect((await publisher.upsertPolicy(compiledIn("shop", "web"))).revision).toBe(42);
    await redis.del(`${prefix}revision`);
    expect((await publisher.deletePolicy("shop", "web")).revision).toBe(43);
  });
});

describe("bus connections", () => {
  it("report ready once Redis answers", async () => {
    expect(await connections.open("readiness").ready()).toBe(true);
  });
});

describe("BusPublisher: terminations", () => {
  it("writes the revocation record before the termination event", async () => {
    const { prefix, publisher } = setup();
    const monitor = await connections.raw().monitor();
    const commands: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(prefix))) commands.push(args);
    });
    try {
      expect(await publisher.publishTermination(revocation({ id: "shop/cut/uid-1" }))).toEqual({ changed: true, revision: 1 });
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      monitor.disconnect();
    }
    const writes = commands.map((args) => `${args[0]?.toUpperCase()} ${args[1]}`).filter((c) => /^(HSET|XADD)/u.test(c));
    expect(writes).toEqual([`HSET ${prefix}revocations`, `XADD ${prefix}events`]);

    const record = decodeRevocation(await redis.hget(`${prefix}revocations`, "shop/cut/uid-1"));
    expect(record).toEqual({ ok: true, value: revocation({ id: "shop/cut/uid-1", revision: 1 }) });
    expect(await streamMessages(redis, prefix)).toEqual([
      { v: 1, type: "termination", revision: 1, revocation: revocation({ id: "shop/cut/uid-1", revision: 1 }) },
    ]);
  });

  it("publishing the same termination again is a no-op", async () => {
    const { prefix, publisher } = setup();
    await publisher.publishTermination(revocation());
    expect(await publisher.publishTermination(revocation())).toEqual({ changed: false, revision: 1 });
    expect(await redis.xlen(`${prefix}events`)).toBe(1);
  });
});
