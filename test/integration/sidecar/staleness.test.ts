/**
 * Bus staleness (issue item 7): with the bus unreachable, Strict policies refuse new requests with 503 once the
 * bus was last confirmed live (a freshly signed epoch record) longer ago than the bound; BestEffort keeps enforcing the last view (and, with a known session,
 * needs no Redis at all on the request path). When the bus comes back, Strict recovers by itself.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FailureMode } from "../../../operator/api/v1alpha1/index.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { keepEpochFresh, ringOf } from "../../builders/bus-keys.ts";
import { compileAccessPolicy } from "../../../operator/policy/compile.ts";
import { accessPolicy, allow, inNamespace, withFailureMode, withRule, withSelector } from "../../builders/access-policy.ts";
import { PrivateRedis, uniquePrefix } from "../bus/support.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { AUDIENCE, createIssuer, ISSUER, startUpstreamApp, type Issuer, type UpstreamApp } from "./proxy-harness.ts";

const policyFor = (app: string, failureMode: FailureMode) => {
  const r = compileAccessPolicy(
    accessPolicy(
      app,
      inNamespace("shop"),
      withSelector({ matchLabels: { app } }),
      withFailureMode(failureMode),
      withRule(allow("engineers", { identities: [{ group: "engineers" }] })),
    ),
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
};

describe("a sidecar whose bus goes away", () => {
  const redisServer = new PrivateRedis();
  const prefix = uniquePrefix();
  const sessionKey = randomBytes(32);
  let redis: Redis;
  let issuer: Issuer;
  let app: UpstreamApp;
  let strict: SidecarProcess;
  let lenient: SidecarProcess;
  let token: string;
  let stopRefresh: () => void = () => undefined;
  /** What the operator does: (re)build the bus, publish, and keep re-signing the epoch (sidecars count staleness from it). */
  const publish = async () => {
    stopRefresh();
    const publisher = new BusPublisher({ redis, prefix, keys: () => ringOf() });
    await openBus(publisher);
    await publisher.upsertPolicy(policyFor("strict-app", "Strict"));
    await publisher.upsertPolicy(policyFor("lenient-app", "BestEffort"));
    stopRefresh = keepEpochFresh(publisher, 200);
  };
  const get = (s: SidecarProcess) => fetch(`http://127.0.0.1:${s.port}/`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    await redisServer.start();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    [issuer, app] = await Promise.all([createIssuer(), startUpstreamApp()]);
    token = await issuer.token({ sub: "alice", sid: "alice-1", groups: ["engineers"] });
    await publish();
    const start = (labelApp: string) =>
      startSidecarProcess({
        redisUrl: redisServer.url,
        busPrefix: prefix,
        upstreamPort: app.port,
        namespace: "shop",
        pod: `${labelApp}-0`,
        labels: { app: labelApp },
        issuer: { issuer: ISSUER, audience: AUDIENCE, jwks: issuer.jwks },
        sessionKey,
        // The epoch is re-signed every 200 ms: 3 s of staleness is a stalled bus, not a loaded machine.
        env: { VIGIL_MAX_STALENESS_SECONDS: "3", VIGIL_LOG_LEVEL: "warn" },
      });
    [strict, lenient] = await Promise.all([start("strict-app"), start("lenient-app")]);
    await Promise.all([strict.waitReady(), lenient.waitReady()]);
  });

  afterAll(async () => {
    stopRefresh();
    await Promise.all([strict.stop(), lenient.stop()]);
    redis.disconnect();
    await redisServer.stop();
    await app.close();
  });

  it("refuses with 503 under Strict once stale, keeps the last view under BestEffort, and recovers", async () => {
    await expect.poll(async () => (await get(strict)).status, { timeout: 10_000, interval: 200 }).toBe(200);
    expect((await get(lenient)).status).toBe(200);

    await redisServer.stop();
    await expect.poll(async () => (await get(strict)).status, { timeout: 10_000, interval: 200 }).toBe(503);
    const stale = await get(strict);
    expect(await stale.json()).toMatchObject({ code: "POLICY_STALE" });
    expect((await get(lenient)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${strict.adminPort}/readyz`)).status).toBe(503);

    await redisServer.start(); // back, and empty: the operator re-asserts the bus from the resources
    await publish();
    await expect.poll(async () => (await get(strict)).status, { timeout: 15_000, interval: 200 }).toBe(200);
  });
});
