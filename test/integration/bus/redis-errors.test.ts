/**
 * The bus connection factory logs what ioredis reports as `error` events (instead of silencing them): with the
 * reason, rate-limited per reason, and once more when the connection is ready again.
 * A TCP relay in front of the real Redis cuts the connection and refuses new ones for a while.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { createBusRedis, type BusRedisConnections } from "../../../lib/redis.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { capture } from "../../unit/lib/capture.ts";
import { startRelay, type TcpRelay } from "../operator/tcp-relay.ts";

describe("policy bus connection errors", () => {
  let relay: TcpRelay;
  let redis: BusRedisConnections;
  const { lines, destination } = capture();

  beforeAll(async () => {
    const url = new URL(clusterEnv().redisUrl);
    relay = await startRelay(url.hostname, Number(url.port));
    url.port = String(relay.port);
    redis = createBusRedis({
      url: url.toString(),
      connectionName: "vigil-test-errors",
      maxRetriesPerRequest: 0,
      log: createLogger({ name: "vigil-operator", level: "info", destination }),
    });
  });

  afterAll(async () => {
    await redis.close();
    await relay.close();
  });

  it("logs the reason of connection errors once per reason while Redis is unreachable, then that it is ready again", async () => {
    expect(await redis.commands.ping()).toBe("PONG");
    relay.pause();
    await expect(redis.commands.ping()).rejects.toThrow();
    // ioredis reconnects every 50–400 ms meanwhile: several attempts, each failing the same way.
    await vi.waitFor(
      () => {
        expect(relay.refused).toBeGreaterThanOrEqual(3);
      },
      { timeout: 20_000, interval: 50 },
    );
    const errors = lines.filter((l) => l["msg"] === "policy bus (Redis) connection error");
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThan(relay.refused);
    for (const line of errors) expect(line).toMatchObject({ level: "warn", connection: "commands", err: expect.any(String) as string });
    expect(new Set(errors.map((l) => `${String(l["code"])} ${String(l["err"])}`)).size).toBe(errors.length);
    relay.resume();
    await vi.waitFor(
      () => {
        expect(lines.some((l) => l["msg"] === "policy bus (Redis) connection ready again" && l["connection"] === "commands")).toBe(true);
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(await redis.commands.ping()).toBe("PONG");
  });
});
