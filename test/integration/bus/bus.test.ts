/**
 * The signed policy bus on a real Redis: the operator's publisher, the sidecar's subscriber feeding the real view,
 * and a rogue writer with full write access to Redis (but not to the operator's key).
 */
import { sign } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seal, SIGNING_CONTEXT } from "../../../operator/api/bus/envelope.ts";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import type { EventBody } from "../../../operator/api/bus/messages.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { BusReporter } from "../../../sidecar/bus/reporter.ts";
import { withSelector } from "../../builders/access-policy.ts";
import { ack, compiledIn, heartbeat, revocation } from "../../builders/bus.ts";
import { newBusKey, ringOf, verifyingOf } from "../../builders/bus-keys.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, eventually, follow, publisherOn, uniquePrefix, type Follower } from "./support.ts";

const NS = "shop";
const web = (hash = "a") => ({ ...compiledIn(NS, "web", withSelector({ matchLabels: { app: "web" } })), hash: hash.repeat(64) });
const api = compiledIn(NS, "api", withSelector({ matchLabels: { app: "api" } }));
const future = () => Date.now() + 3_600_000;
const cut = (id: string, fields: Parameters<typeof revocation>[0] = {}) =>
  revocation({ id: `${NS}/${id}/u1`, namespace: NS, tokensIssuedBefore: Date.now(), expiresAt: future(), ...fields });

let connections: Connections;
let rogue: Redis;
let followers: Follower[] = [];

beforeAll(() => {
  connections = new Connections(clusterEnv().redisUrl);
  rogue = connections.raw();
});
afterEach(async () => {
  await Promise.all(followers.map((f) => f.stop()));
  followers = [];
});
afterAll(async () => {
  await connections.closeAll();
});

function follower(prefix: string, namespace = NS): Follower {
  const f = follow(connections, prefix, namespace);
  followers.push(f);
  return f;
}

const refusals = (f: Follower): string[] => f.issues.flatMap((i) => (i.kind === "refused" ? [i.code] : []));

describe("the signed policy bus", () => {
  it("a sidecar loads a verified snapshot of its namespace and follows the changes in order", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    await publisher.upsertPolicy(api);
    await publisher.upsertPolicy(compiledIn("other", "web", withSelector({})));
    const f = follower(prefix);
    await eventually(() => {
      expect(f.view.selected.map((p) => p.name)).toEqual(["web"]);
    });
    expect(f.view.epoch).toBe(publisher.epoch?.id);

    const changed = await publisher.upsertPolicy(web("b"));
    await eventually(() => {
      expect(f.view.revision).toBe(changed.revision);
    });
    expect(f.view.selected[0]?.hash).toBe("b".repeat(64));
    expect((await publisher.upsertPolicy(web("b"))).changed).toBe(false); // unchanged: no revision, no event
    const deleted = await publisher.deletePolicy(NS, "web");
    await eventually(() => {
      expect(f.view.revision).toBe(deleted.revision);
    });
    expect(f.view.selected).toEqual([]);
    expect(f.snapshots).toBe(1); // every change came through the stream, in order
    expect(refusals(f)).toEqual([]);
  });

  it("changes of other namespaces never reach a sidecar, and a namespace with nothing published gets a signed empty head", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    const f = follower(prefix, "quiet");
    await publisher.upsertPolicy(web());
    await eventually(() => {
      expect(f.issues.some((i) => i.kind === "unpublished")).toBe(true);
    });
    expect(f.view.loaded).toBe(false);
    await publisher.ensureNamespace("quiet");
    await eventually(() => {
      expect(f.view.loaded).toBe(true);
    });
    expect(f.view.selected).toEqual([]);
  });

  it("a revocation reaches the sidecar, is kept when a rebuilt bus no longer has it, and leaves only by a signed lift", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    const f = follower(prefix);
    await eventually(() => {
      expect(f.view.loaded).toBe(true);
    });
    await publisher.publishRevocation(cut("cut-alice"));
    await eventually(() => {
      expect(f.revoked).toEqual([`${NS}/cut-alice/u1`]);
    });

    // Redis comes back empty and an operator that knows nothing rebuilds it from resources that lack the revocation.
    await rogue.flushall();
    const fresh = new BusPublisher({ redis: connections.open("op-2").commands, prefix, keys: () => ringOf() });
    expect(await openBus(fresh, { policies: [web()], revocations: [], namespaces: [] })).toBe("rebuilt");
    await eventually(() => {
      expect(f.view.epoch).toBe(fresh.epoch?.id);
    });
    expect(f.view.hasRevocation(`${NS}/cut-alice/u1`)).toBe(true); // absence is not a lift

    await fresh.publishRevocation(cut("cut-alice"));
    const lifted = await fresh.liftRevocationsOf(NS, "cut-alice");
    expect(lifted.changed).toBe(true);
    await eventually(() => {
      expect(f.view.hasRevocation(`${NS}/cut-alice/u1`)).toBe(false);
    });
    expect(f.revoked).toEqual([`${NS}/cut-alice/u1`]); // seen new once, not again after the rebuild
  });

  it("an empty or damaged bus leaves the view as it was: no policy dropped, no flow cut; the rebuild brings it back", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    const f = follower(prefix);
    await eventually(() => {
      expect(f.view.selected).toHaveLength(1);
    });
    await rogue.del(busKeys(prefix).epoch);
    await rogue.set(busKeys(prefix).epoch, "not a hash"); // wrong type: every read of it fails
    const confirmed = f.confirmedAt;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(f.view.selected.map((p) => p.name)).toEqual(["web"]);
    expect(f.confirmedAt).toBe(confirmed); // no longer confirmed live: stale, not empty

    expect(await publisher.check()).toMatchObject({ reason: "damaged" });
    await expect(publisher.upsertPolicy(api)).rejects.toMatchObject({ code: "BUS_DAMAGED" });
    await publisher.rebuild({ policies: [web(), api], revocations: [], namespaces: [] }, publisher.damage ?? { reason: "damaged", message: "test" });
    expect(await publisher.check()).toBeNull();
    await eventually(() => {
      expect(f.view.epoch).toBe(publisher.epoch?.id);
    });
    expect(f.confirmedAt).toBeGreaterThan(confirmed ?? 0);
  });

  it("the operator's writes are compare-and-set: a head changed under it is damage, never a fork", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    await rogue.hset(busKeys(prefix).namespace(NS).head, "revision", "999");
    await expect(publisher.upsertPolicy(api)).rejects.toMatchObject({ code: "BUS_DAMAGED" });
    expect(publisher.damage?.message).toContain(`namespace ${NS}`);
  });

  it("forged, mis-signed and replayed messages are refused and counted; the view never changes because of them", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    const f = follower(prefix);
    await eventually(() => {
      expect(f.view.loaded).toBe(true);
    });
    const { events, entries } = busKeys(prefix).namespace(NS);
    const [[, [, original]]] = (await rogue.xrange(events, "-", "+")) as [[string, [string, string]]];
    await publisher.upsertPolicy(api); // so the first event is now an old one
    await eventually(() => {
      expect(f.view.revision).toBe(publisher.highestRevision);
    });
    const before = f.view.revision;

    const epoch = publisher.epoch?.id ?? "";
    const grant: EventBody = {
      v: 2,
      type: "event",
      epoch,
      namespace: NS,
      revision: before + 1,
      prev: before,
      changes: [
        {
          op: "put",
          entry: {
            v: 2,
            epoch,
            namespace: NS,
            revision: before + 1,
            type: "policy",
            policy: { ...compiledIn(NS, "open", withSelector({})), hash: "f".repeat(64) },
          },
        },
      ],
    };
    const otherKey = newBusKey("k1"); // same key id, another key
    await rogue.xadd(events, "*", "m", JSON.stringify(grant)); // unsigned
    await rogue.xadd(events, "*", "m", seal(grant, { kid: "k1", privateKey: otherKey.privateKey }).envelope); // mis-signed
    await rogue.xadd(events, "*", "m", seal(grant, { kid: "k2", privateKey: otherKey.privateKey }).envelope); // unknown key
    await rogue.xadd(events, "*", "m", original); // a genuine, old event replayed
    await eventually(() => {
      expect(refusals(f)).toEqual(["BUS_UNSIGNED", "BUS_BAD_SIGNATURE", "BUS_UNKNOWN_KEY", "BUS_REPLAYED"]);
    });
    expect(f.subscriber.refused).toBe(4);
    expect(f.view.selected.map((p) => p.name)).toEqual(["web"]);
    expect(f.view.revision).toBe(before);

    // The hash altered behind the head: a new sidecar refuses the whole snapshot.
    const sig = sign(null, Buffer.from(`${SIGNING_CONTEXT}{}`), otherKey.privateKey).toString("base64url");
    await rogue.hset(entries, "p:open", JSON.stringify({ v: 2, kid: "k1", sig, body: "{}" }));
    const late = follower(prefix);
    await eventually(() => {
      expect(refusals(late)).toContain("BUS_BAD_SIGNATURE");
    });
    expect(late.view.loaded).toBe(false);
    await rogue.hdel(entries, "p:open");
    await rogue.hdel(entries, "p:api"); // a policy removed: the digest no longer matches the head
    const later = follower(prefix);
    await eventually(() => {
      expect(refusals(later)).toContain("BUS_DIGEST_MISMATCH");
    });
    expect(later.view.loaded).toBe(false);
    expect(later.subscriber.lastRefusal).toBe("BUS_DIGEST_MISMATCH"); // reported in its heartbeat for the operator to repair
  });

  it("a whole older bus put back (an earlier epoch replayed) is refused by a sidecar that applied a newer one", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    const nsKeys = busKeys(prefix).namespace(NS);
    const keys = [busKeys(prefix).epoch, nsKeys.head, nsKeys.entries, nsKeys.events];
    const dumps = await Promise.all(keys.map(async (k): Promise<[string, Buffer]> => [k, await rogue.dumpBuffer(k)]));
    await new Promise((r) => setTimeout(r, 5));
    await publisher.rebuild({ policies: [], revocations: [], namespaces: [NS] }, { reason: "damaged", message: "test" });
    const f = follower(prefix);
    await eventually(() => {
      expect(f.view.epoch).toBe(publisher.epoch?.id);
    });
    for (const [k, dump] of dumps) await rogue.restore(k, 0, dump, "REPLACE");
    await eventually(() => {
      expect(refusals(f)).toContain("BUS_REPLAYED");
    });
    expect(f.view.selected).toEqual([]); // the replayed bus granted web: not applied
  });
});

describe("key rotation with overlap", () => {
  it("sidecars that trust both keys never stop; a new primary re-signs the whole bus, after which the old key can go", async () => {
    const prefix = uniquePrefix();
    const k1 = newBusKey("k1");
    const k2 = newBusKey("k2");
    let ring = ringOf([k1]);
    const publisher = new BusPublisher({ redis: connections.open("op-rotate").commands, prefix, keys: () => ring });
    await openBus(publisher);
    await publisher.upsertPolicy(web());
    // 1. Every sidecar receives k2 (the chart copies the new certificate into each protected namespace).
    const both = follow(connections, prefix, NS, { app: "web" }, verifyingOf([k1, k2]));
    followers.push(both);
    await eventually(() => {
      expect(both.view.loaded).toBe(true);
    });
    // 2. k2 becomes the primary: the next check asks for a rebuild, which re-signs everything with k2.
    ring = ringOf([k1, k2], "k2");
    const damage = await publisher.check();
    expect(damage).toMatchObject({ reason: "key_rotated" });
    await publisher.rebuild({ policies: [web()], revocations: [], namespaces: [] }, damage ?? { reason: "key_rotated", message: "" });
    expect(await publisher.check()).toBeNull();
    await publisher.upsertPolicy(api);
    await eventually(() => {
      expect(both.view.revision).toBe(publisher.highestRevision);
    });
    // 3. k1 is retired: a sidecar that only knows k2 loads the whole bus.
    const onlyNew = follow(connections, prefix, NS, { app: "web" }, verifyingOf([k2]));
    followers.push(onlyNew);
    await eventually(() => {
      expect(onlyNew.view.selected.map((p) => p.name)).toEqual(["web"]);
    });
    expect(refusals(both)).toEqual([]);
    expect(refusals(onlyNew)).toEqual([]);
  });
});

describe("what sidecars write", () => {
  it("heartbeats and acknowledgements round-trip; garbage from a rogue writer is skipped and counted", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    const reporter = new BusReporter({ redis: connections.open("sidecar").commands, prefix });
    const now = Date.now();
    await reporter.heartbeat(heartbeat({ namespace: NS, pod: "web-0", at: now }));
    await reporter.ack(ack({ namespace: NS, pod: "web-0", terminationId: `${NS}/cut/u1`, at: now }));
    await rogue.hset(busKeys(prefix).sidecars, `${NS}/rogue`, "\u0000garbage");
    await rogue.hset(
      busKeys(prefix).acks(`${NS}/cut/u1`),
      `${NS}/liar`,
      JSON.stringify(ack({ namespace: NS, pod: "someone-else", terminationId: `${NS}/cut/u1` })),
    );
    expect((await publisher.liveSidecars(now, 5_000)).map((h) => h.pod)).toEqual(["web-0"]);
    expect((await publisher.readAcks(`${NS}/cut/u1`)).map((a) => a.pod)).toEqual(["web-0"]);
    expect(publisher.invalidMessages).toBe(2);
    expect(await rogue.xlen(busKeys(prefix).ackEvents)).toBe(1); // the operator is woken for every ack
    expect(await publisher.pruneSidecars(now + 60_000, 5_000)).toBe(2);
  });

  it("a sidecar holding other keys than the operator's refuses the whole bus", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web());
    const stranger = follow(connections, prefix, NS, { app: "web" }, new Map([["k1", newBusKey().publicKey]]));
    followers.push(stranger);
    await eventually(() => {
      expect(refusals(stranger)).toContain("BUS_BAD_SIGNATURE");
    });
    expect(stranger.view.loaded).toBe(false);
  });
});
