/**
 * What keeps publishes fast while the namespace is busy (docs/decisions/perf-0005), on a real Redis: an unchanged
 * entry answers with its own revision (so statuses that name it do not change whenever something else of the
 * namespace is published), and the bus controller's checks can run without the publish gate — `probe()` and
 * `probeContents()` find damage without recording it (a publish in flight is not damage), `check()` and
 * `verifyContents()` record it.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import { withSelector } from "../../builders/access-policy.ts";
import { compiledIn, revocation } from "../../builders/bus.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, publisherOn, uniquePrefix } from "./support.ts";

const NS = "shop";
const web = compiledIn(NS, "web", withSelector({ matchLabels: { app: "web" } }));
const cut = (id: string) => revocation({ id: `${NS}/${id}/u1`, namespace: NS, tokensIssuedBefore: Date.now(), expiresAt: Date.now() + 3_600_000 });

let connections: Connections;
let rogue: Redis;

beforeAll(() => {
  connections = new Connections(clusterEnv().redisUrl);
  rogue = connections.raw();
});
afterAll(async () => {
  await connections.closeAll();
});

describe("publishing in a busy namespace", () => {
  it("an unchanged policy or revocation answers with the revision of its own entry, not the namespace's latest", async () => {
    const publisher = await publisherOn(connections, uniquePrefix());
    const policy = await publisher.upsertPolicy(web);
    const first = cut("t1");
    const revoked = await publisher.publishRevocation(first);
    for (let i = 2; i <= 5; i++) await publisher.publishRevocation(cut(`t${i}`));
    expect(publisher.highestRevision).toBeGreaterThan(revoked.revision);

    expect(await publisher.upsertPolicy(web)).toEqual({ changed: false, revision: policy.revision });
    expect(await publisher.publishRevocation(first)).toEqual({ changed: false, revision: revoked.revision });
    expect(await publisher.deletePolicy(NS, "absent")).toEqual({ changed: false, revision: 0 });
    // What sidecars enforce says the same: the entry was written at that revision.
    expect(publisher.policyRevision(NS, "web")).toBe(policy.revision);
  });

  it("probes find damage without recording it; only check() and verifyContents() mark the bus for a rebuild", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web);
    expect(await publisher.probe()).toBeNull();
    expect(await publisher.probeContents()).toBeNull();

    const entries = busKeys(prefix).namespace(NS).entries;
    const [field, envelope] = Object.entries(await rogue.hgetall(entries))[0] ?? ["", ""];
    await rogue.hset(entries, field, envelope.replace("web", "wEb"));
    expect(await publisher.probe()).toBeNull(); // heads and epoch are intact
    expect(await publisher.probeContents()).toMatchObject({ reason: "altered" });
    expect(publisher.damage).toBeNull();
    // Not recorded: publishes go on until the finding is confirmed.
    expect((await publisher.publishRevocation(cut("t1"))).changed).toBe(true);

    expect(await publisher.verifyContents()).toMatchObject({ reason: "altered" });
    expect(publisher.damage).toMatchObject({ reason: "altered" });
    await expect(publisher.publishRevocation(cut("t2"))).rejects.toMatchObject({ code: "BUS_DAMAGED" });
  });

  it("the deep probe yields while it hashes, and publishes landing meanwhile are not taken for altered entries", async () => {
    const publisher = await publisherOn(connections, uniquePrefix());
    for (let i = 0; i < 1_500; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => publisher.publishRevocation(cut(`t${i + j}`))));
    let turns = 0;
    let probing = true;
    const turn = (): void => {
      turns++;
      if (probing) setImmediate(turn);
    };
    setImmediate(turn);
    const publishing = Promise.all(Array.from({ length: 40 }, (_, i) => publisher.publishRevocation(cut(`late-${i}`))));
    const found = await publisher.probeContents();
    probing = false;
    await publishing;
    // Nothing altered is reported: at most "it kept changing" (then the controller checks again under the gate).
    if (found !== null) expect(found.message).toMatch(/changed during each of 3 reads$/);
    expect(turns).toBeGreaterThanOrEqual(3); // 1,500 entries: the event loop turned while they were hashed
    expect(await publisher.verifyContents()).toBeNull();
    expect(publisher.damage).toBeNull();
  });

  it("a head changed under the publisher is found by probe() and recorded by check()", async () => {
    const prefix = uniquePrefix();
    const publisher = await publisherOn(connections, prefix);
    await publisher.upsertPolicy(web);
    await rogue.hset(busKeys(prefix).namespace(NS).head, "revision", "999");
    expect(await publisher.probe()).toMatchObject({ reason: "damaged", message: `the head of namespace ${NS} is not the one written` });
    expect(publisher.damage).toBeNull();
    expect(await publisher.check()).toMatchObject({ reason: "damaged" });
    expect(publisher.damage).toMatchObject({ reason: "damaged" });
  });
});
