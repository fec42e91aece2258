/**
 * The real vigil-sidecar process, end to end over the real bus: the operator side publishes with BusPublisher
 * into the harness's Redis, the sidecar (node sidecar/main.ts) enforces in front of a real app.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import type { Socket } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { CompiledPolicy } from "../../../operator/api/compiled-policy.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { keepEpochFresh, ringOf } from "../../builders/bus-keys.ts";
import { compileAccessPolicy } from "../../../operator/policy/compile.ts";
import { accessPolicy, allow, inNamespace, withFailureMode, withRule, withSelector } from "../../builders/access-policy.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { uniquePrefix } from "../bus/support.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import {
  AUDIENCE,
  createIssuer,
  echo,
  ISSUER,
  openTunnel,
  startEchoServer,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type UpstreamApp,
} from "./proxy-harness.ts";

function shopPolicy(tunnelPort: number, opsMayTunnel: boolean): CompiledPolicy {
  const result = compileAccessPolicy(
    accessPolicy(
      "shop-access",
      inNamespace("shop"),
      withSelector({ matchLabels: { app: "shop" } }),
      withFailureMode("BestEffort"),
      withRule(
        allow("engineers-http", { identities: [{ group: "engineers" }], requests: [{ methods: ["GET"], paths: ["*"] }] }),
        allow("engineers-tunnel", { identities: [{ group: "engineers" }], requests: [{ methods: ["CONNECT"], ports: [tunnelPort] }] }),
        ...(opsMayTunnel ? [allow("ops-tunnel", { identities: [{ group: "ops" }], requests: [{ methods: ["CONNECT"], ports: [tunnelPort] }] })] : []),
      ),
    ),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

/** Resolves when the socket is gone (an RST surfaces as an 'error' first; that is expected here). */
const closed = (socket: Socket | WebSocket) =>
  new Promise<void>((r) =>
    (socket as NodeJS.EventEmitter).once("close", () => {
      r();
    }),
  );

describe("vigil-sidecar as a process on the real bus", () => {
  let redis: Redis;
  let publisher: BusPublisher;
  let stopRefresh: () => void = () => undefined;
  let issuer: Issuer;
  let app: UpstreamApp;
  let tcp: EchoServer;
  let sidecar: SidecarProcess;
  const prefix = uniquePrefix();
  const tokens: Record<string, string> = {};
  const sessionKey = randomBytes(32);
  const start = () =>
    startSidecarProcess({
      redisUrl: clusterEnv().redisUrl,
      busPrefix: prefix,
      upstreamPort: app.port,
      namespace: "shop",
      pod: `web-${Math.floor(performance.now())}`,
      labels: { app: "shop" },
      issuer: { issuer: ISSUER, audience: AUDIENCE, jwks: issuer.jwks },
      sessionKey,
    });
  const get = (token: string | undefined, path = "/hello") =>
    fetch(`http://127.0.0.1:${sidecar.port}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    redis = new Redis(clusterEnv().redisUrl);
    publisher = new BusPublisher({ redis, prefix, keys: () => ringOf() });
    await openBus(publisher);
    stopRefresh = keepEpochFresh(publisher);
    [issuer, app, tcp] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
    await publisher.upsertPolicy(shopPolicy(tcp.port, true));
    for (const [name, groups] of Object.entries({ alice: ["engineers"], bob: ["engineers"], carol: ["ops"], mallory: [] })) {
      tokens[name] = await issuer.token({ sub: name, sid: `${name}-login-1`, email: `${name}@example.test`, groups });
    }
    sidecar = await start();
    await sidecar.waitReady();
  });

  afterAll(async () => {
    stopRefresh();
    await sidecar.stop();
    await Promise.all([app.close(), tcp.close()]);
    redis.disconnect();
  });

  it("admits allowed users with verified identity headers and refuses the rest with coded JSON", async () => {
    const ok = await get(tokens.alice);
    expect(ok.status).toBe(200);
    const seen = app.seen.at(-1)?.rawHeaders ?? [];
    expect(seen).toContain("alice");
    expect(seen.join("\n")).toMatch(/x-vigil-session\n?s_[A-Za-z0-9_-]{22}/i);
    expect(seen.map((h) => h.toLowerCase())).not.toContain("authorization"); // the token stays with the sidecar
    expect(seen.join("\n")).not.toContain(tokens.alice);

    const anonymous = await get(undefined);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: "TOKEN_MISSING" });

    const denied = await get(tokens.mallory);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: "NO_MATCHING_RULE" });
  });

  it("terminates exactly one person's live flows, refuses their next request, and acknowledges with counts", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`, { headers: { authorization: `Bearer ${tokens.alice}` } });
    ws.on("error", () => undefined); // the RST is the point of this test
    await once(ws, "open");
    const aliceTunnel = await openTunnel(sidecar.port, tcp.port, tokens.alice!);
    const bobTunnel = await openTunnel(sidecar.port, tcp.port, tokens.bob!);
    expect(await echo(aliceTunnel, "ping")).toBe("ping");

    const cut = {
      id: "shop/cut-alice/uid-1",
      namespace: "shop",
      selector: { kind: "subject" as const, subject: "alice" },
      reason: "laptop stolen",
      tokensIssuedBefore: Date.now(),
      expiresAt: Date.now() + 3_600_000,
    };
    const wsClosed = closed(ws);
    const tunnelClosed = closed(aliceTunnel);
    await publisher.publishRevocation(cut);
    await Promise.all([wsClosed, tunnelClosed]);

    expect(await echo(bobTunnel, "still here")).toBe("still here");
    const refused = await get(tokens.alice);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: "SESSION_REVOKED" });
    expect((await get(tokens.bob)).status).toBe(200);

    await expect.poll(() => publisher.readAcks(cut.id), { timeout: 5000 }).toHaveLength(1);
    const [ack] = await publisher.readAcks(cut.id);
    // Her WebSocket and tunnel, plus the keep-alive socket fetch() may still hold from the first test.
    expect(ack).toMatchObject({ namespace: "shop", sessionsTerminated: 1 });
    expect(ack?.connectionsClosed).toBeGreaterThanOrEqual(2);
    bobTunnel.destroy();
  });

  it("closes the tunnels a policy change no longer allows and keeps the others", async () => {
    const carolTunnel = await openTunnel(sidecar.port, tcp.port, tokens.carol!);
    const bobTunnel = await openTunnel(sidecar.port, tcp.port, tokens.bob!);
    const carolClosed = closed(carolTunnel);
    await publisher.upsertPolicy(shopPolicy(tcp.port, false));
    await carolClosed;
    expect(await echo(bobTunnel, "unaffected")).toBe("unaffected");
    await expect(openTunnel(sidecar.port, tcp.port, tokens.carol!)).rejects.toThrow(/403/);
    bobTunnel.destroy();
  });

  it("refuses a terminated session on a sidecar that started after the termination (durable revocation)", async () => {
    const late = await start();
    try {
      await late.waitReady();
      const refused = await fetch(`http://127.0.0.1:${late.port}/hello`, { headers: { authorization: `Bearer ${tokens.alice}` } });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ code: "SESSION_REVOKED" });
      expect((await fetch(`http://127.0.0.1:${late.port}/hello`, { headers: { authorization: `Bearer ${tokens.bob}` } })).status).toBe(200);
    } finally {
      await late.stop();
    }
  });

  it("stops at start naming the bad setting", async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../../../sidecar/main.ts")], {
      env: { ...process.env, VIGIL_POD_NAME: "web-1", VIGIL_POD_NAMESPACE: "shop", VIGIL_UPSTREAM_PORT: "99999" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(1);
    expect(stderr).toMatch(/VIGIL_(POD_LABELS_FILE|UPSTREAM_PORT)/);
  });
});
