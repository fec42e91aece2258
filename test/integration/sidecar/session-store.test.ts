import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyRing } from "../../../lib/sealing.ts";
import { newSessionId } from "../../../sidecar/sessions/session-id.ts";
import { SessionStore } from "../../../sidecar/sessions/store.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { principal } from "../../builders/principal.ts";

const MIN = 60_000;
const timeouts = { idleTimeoutMs: 15 * MIN, absoluteTimeoutMs: 60 * MIN };
const keyRing = createKeyRing({ keys: [{ id: "k1", key: randomBytes(32) }], primary: "k1" });

describe("the session store (real Redis, encrypted records)", () => {
  let redis: Redis;
  let clock: number;
  let prefix: string;
  const sidecar = () => new SessionStore({ redis, prefix, sealer: keyRing, newId: newSessionId, now: () => clock });
  const seen = (workload = "shop/web-1") => ({ now: clock, clientIp: "10.1.2.3", userAgent: "curl/8", workload });

  beforeAll(() => {
    redis = new Redis(clusterEnv().redisUrl);
  });
  afterAll(() => {
    redis.disconnect();
  });
  const fresh = () => {
    clock = Date.now();
    prefix = `test:${randomBytes(6).toString("hex")}:`;
  };

  it("converges concurrent first requests on different sidecars onto one session ID", async () => {
    fresh();
    const stores = [sidecar(), sidecar(), sidecar(), sidecar()];
    const records = await Promise.all(stores.map((s, i) => s.resolve(principal(), timeouts, seen(`shop/web-${i}`))));
    const ids = new Set(records.map((r) => r.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^s_[A-Za-z0-9_-]{22}$/);
  });

  it("leaves one index and one record behind when concurrent first requests race (the losers' IDs are written nowhere)", async () => {
    fresh();
    const stores = [sidecar(), sidecar(), sidecar(), sidecar()];
    const records = await Promise.all(stores.map((s, i) => s.resolve(principal(), timeouts, seen(`shop/web-${i}`))));
    const id = records[0]?.id ?? "";
    expect(await redis.keys(`${prefix}session:*`)).toEqual([`${prefix}session:${id}`]);
    const [index] = await redis.keys(`${prefix}session-index:*`);
    expect(await redis.get(index ?? "")).toBe(id);
    expect(records.every((r) => r.startedAt === records[0]?.startedAt)).toBe(true);
  });

  it("adopts a session whose index was written without its record yet (the first sight's ID, this sighting's record)", async () => {
    fresh();
    const first = sidecar();
    const { id } = await first.resolve(principal(), timeouts, seen());
    await redis.del(`${prefix}session:${id}`);
    const record = await sidecar().resolve(principal(), timeouts, seen("shop/web-2"));
    expect(record).toMatchObject({ id, workloads: ["shop/web-2"] });
    expect(await redis.exists(`${prefix}session:${id}`)).toBe(1);
  });

  it("keeps the stored record when the index was lost but the record under the proposed ID was not", async () => {
    fresh();
    const id = newSessionId();
    const pinned = () => new SessionStore({ redis, prefix, sealer: keyRing, newId: () => id, now: () => clock });
    const first = await pinned().resolve(principal(), timeouts, seen("shop/web-1"));
    for (const key of await redis.keys(`${prefix}session-index:*`)) await redis.del(key);
    clock += MIN;
    const again = await pinned().resolve(principal(), timeouts, seen("shop/web-2"));
    expect(again).toMatchObject({ id, startedAt: first.startedAt, workloads: ["shop/web-1", "shop/web-2"] });
  });

  it("stores the record encrypted, with a TTL no longer than the absolute timeout", async () => {
    fresh();
    const store = sidecar();
    const { id } = await store.resolve(principal(), timeouts, seen());
    const raw = (await redis.get(`${prefix}session:${id}`)) ?? "";
    expect(raw).not.toContain("alice");
    expect(raw.startsWith("v1.k1.")).toBe(true);
    const ttl = await redis.pttl(`${prefix}session:${id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(timeouts.absoluteTimeoutMs);
    expect((await redis.keys(`${prefix}*`)).join(" ")).not.toContain("alice");
  });

  it("keeps a session alive on one sidecar while it is active on another", async () => {
    fresh();
    const a = sidecar();
    const b = sidecar();
    await a.resolve(principal(), timeouts, seen());
    await b.resolve(principal(), timeouts, seen());
    clock += 10 * MIN;
    await b.resolve(principal(), timeouts, seen());
    await b.flush();
    clock += 10 * MIN; // 20 min after A last saw it, 10 min after B did
    await expect(a.resolve(principal(), timeouts, seen())).resolves.toMatchObject({ lastActivityAt: clock });
  });

  it("refuses a session idle past its timeout and one past its absolute lifetime", async () => {
    fresh();
    const store = sidecar();
    await store.resolve(principal(), timeouts, seen());
    clock += 15 * MIN;
    await expect(store.resolve(principal(), timeouts, seen())).rejects.toMatchObject({ code: "SESSION_IDLE", status: 401 });

    const busy = principal({ sessionClaim: { name: "sid", value: "busy" } });
    await store.resolve(busy, timeouts, seen());
    for (let i = 0; i < 6; i++) {
      clock += 10 * MIN - 1;
      await store.resolve(busy, timeouts, seen());
    }
    clock += 10 * MIN;
    await expect(store.resolve(busy, timeouts, seen())).rejects.toMatchObject({ code: "SESSION_EXPIRED" });
  });

  it("refuses a terminated session on every sidecar once the end is written", async () => {
    fresh();
    const a = sidecar();
    const { id } = await a.resolve(principal(), timeouts, seen());
    const cut = {
      id: "shop/cut/u",
      namespace: "shop",
      selector: { kind: "subject" as const, subject: "alice" },
      reason: "test",
      tokensIssuedBefore: clock,
      expiresAt: clock + 60 * MIN,
    };
    expect(a.endCovered(cut, clock)).toEqual([id]);
    await a.flush();
    await expect(a.resolve(principal(), timeouts, seen())).rejects.toMatchObject({ code: "SESSION_REVOKED" });
    await expect(sidecar().resolve(principal(), timeouts, seen())).rejects.toMatchObject({ code: "SESSION_REVOKED" });
  });

  it("does not trust a record that was tampered with in Redis", async () => {
    fresh();
    const { id } = await sidecar().resolve(principal(), timeouts, seen());
    const key = `${prefix}session:${id}`;
    const raw = (await redis.get(key)) ?? "";
    const flipped = raw.slice(0, -3) + (raw.at(-3) === "A" ? "B" : "A") + raw.slice(-2);
    await redis.set(key, flipped, "PX", 60_000);
    await expect(sidecar().resolve(principal(), timeouts, seen())).rejects.toMatchObject({ code: "SESSION_RECORD_INVALID" });
  });
});
