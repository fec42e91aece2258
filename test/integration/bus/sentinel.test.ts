/**
 * High availability end to end (issue 8, item 8): the operator AND the sidecars follow a Redis Sentinel failover.
 * A real primary, replica and three sentinels; the primary is killed under traffic. Revoked identities stay refused
 * throughout, nothing answers 500, and after the failover a new termination still reaches the sidecar (it follows
 * the new primary) and completes.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { createNamespace, kubeConfig } from "../operator/kube-support.ts";
import { applyVigilCrds, OperatorProcess, vigilObjects } from "../operator/operator-support.ts";
import { AUDIENCE, createIssuer, ISSUER, openTunnel, startEchoServer, startUpstreamApp, type EchoServer, type Issuer, type UpstreamApp } from "../sidecar/proxy-harness.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { SentinelSetup } from "./sentinel-support.ts";
import { eventually, uniquePrefix } from "./support.ts";

describe("Redis Sentinel failover under traffic", () => {
  const env = clusterEnv();
  const redis = new SentinelSetup();
  const prefix = uniquePrefix();
  const objects = vigilObjects(kubeConfig(env));
  let ns: string;
  let operator: OperatorProcess;
  let sidecar: SidecarProcess;
  let issuer: Issuer;
  let app: UpstreamApp;
  let tcp: EchoServer;

  beforeAll(async () => {
    await applyVigilCrds(env);
    await redis.start();
    ns = await createNamespace(env);
    [issuer, app, tcp] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
    operator = await OperatorProcess.start(env, { redisUrl: redis.primary.url, prefix, namespace: ns, identity: "sentinel", heartbeatMaxAgeSeconds: 3, env: redis.env });
    await operator.waitUntilLeading();
    await objects.createPolicy(ns, "web", {
      selector: { matchLabels: { app: "web" } },
      failureMode: "BestEffort",
      rules: [{ name: "staff", action: "Allow", identities: [{ group: "staff" }], requests: [{ paths: ["/*"] }, { methods: ["CONNECT"], ports: [tcp.port] }] }],
    });
    sidecar = await startSidecarProcess({
      redisUrl: redis.primary.url,
      busPrefix: prefix,
      upstreamPort: app.port,
      namespace: ns,
      pod: "web-0",
      labels: { app: "web" },
      issuer: { issuer: ISSUER, audience: AUDIENCE, jwks: issuer.jwks },
      sessionKey: randomBytes(32),
      env: { ...redis.env, VIGIL_LOG_LEVEL: "warn" },
    });
    await sidecar.waitReady(30_000);
  }, 120_000);

  afterAll(async () => {
    await sidecar.stop();
    await operator.stop();
    await redis.stop();
    await Promise.all([app.close(), tcp.close()]);
  });

  it("keeps revoked identities refused, never answers 500, and delivers a termination through the new primary", async () => {
    const alice = await issuer.token({ sub: "alice", sid: "alice-1", groups: ["staff"] });
    const mallory = await issuer.token({ sub: "mallory", sid: "mallory-1", groups: ["staff"] });
    await objects.createTermination(ns, "cut-mallory", { target: { subject: "mallory" }, reason: "before the failover", revokeFor: "1h" });
    await eventually(async () => {
      expect((await objects.getTermination(ns, "cut-mallory"))?.status?.phase).toBe("Completed");
    }, 20_000);

    const counts = { requests: 0, revokedAdmitted: 0, serverErrors: 0, aliceOk: 0 };
    const traffic$ = { running: true };
    const get = async (token: string): Promise<number> => {
      try {
        const res = await fetch(`http://127.0.0.1:${sidecar.port}/`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.status >= 500 && !(res.status === 503 && res.headers.get("retry-after") !== null) ? -res.status : res.status;
      } catch {
        return -1;
      }
    };
    const traffic = (async () => {
      while (traffic$.running) {
        const [a, m] = await Promise.all([get(alice), get(mallory)]);
        counts.requests += 2;
        if (a < 0 || m < 0) counts.serverErrors++;
        if (a === 200) counts.aliceOk++;
        if (m === 200) counts.revokedAdmitted++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const tunnel: Socket = await openTunnel(sidecar.port, tcp.port, alice);
    const tunnelClosed = new Promise((resolve) => tunnel.once("close", resolve));

    await redis.failover();
    await objects.createTermination(ns, "cut-alice", { target: { subject: "alice" }, reason: "after the failover" });
    await tunnelClosed; // the sidecar got it from the new primary
    const done = await eventually(async () => {
      const t = await objects.getTermination(ns, "cut-alice");
      if (t?.status?.phase !== "Completed") throw new Error(`phase ${t?.status?.phase ?? "none"}`);
      return t;
    }, 30_000);
    traffic$.running = false;
    await traffic;

    console.log(`[sentinel] ${JSON.stringify(counts)}`);
    expect(done.status).toMatchObject({ sidecarsAcknowledged: 1, sidecarsExpected: 1 });
    expect(done.status?.connectionsClosed).toBeGreaterThanOrEqual(1); // the tunnel (and the traffic's keep-alive socket)
    expect(counts.aliceOk).toBeGreaterThan(0);
    expect(counts.revokedAdmitted).toBe(0);
    expect(counts.serverErrors).toBe(0);
  }, 120_000);
});
