/**
 * High availability end to end (issue 8, item 8): the operator AND the sidecars follow a Redis Sentinel failover.
 * A real primary, replica and three sentinels; the primary is killed under traffic. Revoked identities stay refused
 * throughout, nothing answers 500 (a 503 must carry Retry-After), and after the failover a new termination still
 * reaches the sidecar (it follows the new primary) and completes. The only connection resets allowed are the ones that
 * termination makes itself, on the flows of the session it ends.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { createNamespace, kubeConfig } from "../operator/kube-support.ts";
import { applyVigilCrds, OperatorProcess, vigilObjects } from "../operator/operator-support.ts";
import {
  AUDIENCE,
  createIssuer,
  ISSUER,
  openTunnel,
  startEchoServer,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type UpstreamApp,
} from "../sidecar/proxy-harness.ts";
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
    operator = await OperatorProcess.start(env, {
      redisUrl: redis.primary.url,
      prefix,
      namespace: ns,
      identity: "sentinel",
      heartbeatMaxAgeSeconds: 3,
      env: redis.env,
    });
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

    const counts = { requests: 0, revokedAdmitted: 0, aliceOk: 0 };
    // Every answer that was neither normal nor a retryable 503 (`503 + Retry-After`), and every request that got no
    // answer at all, with what the client saw: the status and Vigil's code, or the error's code.
    const failures: Failure[] = [];
    const state = { running: true };
    const get = async (who: string, token: string): Promise<number> => {
      try {
        const res = await fetch(`http://127.0.0.1:${sidecar.port}/`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
        const body = await res.text();
        if (res.status >= 500 && !(res.status === 503 && res.headers.get("retry-after") !== null)) {
          failures.push({ who, at: Date.now(), what: `${res.status} ${vigilCode(body)}`, reset: false });
        }
        return res.status;
      } catch (error) {
        const code = errorCode(error);
        failures.push({ who, at: Date.now(), what: `no answer: ${code}`, reset: RESET_CODES.has(code) });
        return -1;
      }
    };
    const traffic = (async () => {
      while (state.running) {
        const [a, m] = await Promise.all([get("alice", alice), get("mallory", mallory)]);
        counts.requests += 2;
        if (a === 200) counts.aliceOk++;
        if (m === 200) counts.revokedAdmitted++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const tunnel: Socket = await openTunnel(sidecar.port, tcp.port, alice);
    let tunnelResetAt = Number.NaN;
    const tunnelClosed = new Promise((resolve) =>
      tunnel.once("close", () => {
        tunnelResetAt = Date.now();
        resolve(undefined);
      }),
    );

    await redis.failover();
    await objects.createTermination(ns, "cut-alice", { target: { subject: "alice" }, reason: "after the failover" });
    await tunnelClosed; // the sidecar got it from the new primary
    // Completed, and acknowledged by the sidecar (possibly late: it may re-register after the operator did).
    const done = await eventually(async () => {
      const t = await objects.getTermination(ns, "cut-alice");
      if (t?.status?.phase !== "Completed" || t.status.sidecarsAcknowledged !== 1)
        throw new Error(`phase ${t?.status?.phase ?? "none"}, ${t?.status?.sidecarsAcknowledged ?? 0} acknowledged`);
      return t;
    }, 30_000);
    state.running = false;
    await traffic;

    // cut-alice resets every flow of alice's session at once: the tunnel, and the traffic's keep-alive sockets bound
    // to her session. A request in flight on one of those (hers, or mallory's sent on a socket alice used last) fails
    // with a connection reset: the termination doing its job, not a server error. Any other failure, or a reset at
    // another moment, is one.
    const resetByTermination = failures.filter((f) => f.reset && Math.abs(f.at - tunnelResetAt) <= TERMINATION_RESET_SLACK_MS);
    const serverErrorSamples = failures.filter((f) => !resetByTermination.includes(f)).map((f) => `${f.who} at ${new Date(f.at).toISOString()}: ${f.what}`);

    console.log(`[sentinel] ${JSON.stringify({ ...counts, resetByTermination: resetByTermination.length, serverErrors: serverErrorSamples.length })}`);
    expect(done.status).toMatchObject({ sidecarsAcknowledged: 1, sidecarsExpected: 1 });
    expect(done.status?.connectionsClosed).toBeGreaterThanOrEqual(1); // the tunnel (and the traffic's keep-alive socket)
    expect(counts.aliceOk).toBeGreaterThan(0);
    expect(counts.revokedAdmitted).toBe(0);
    expect(serverErrorSamples, `tunnel reset at ${new Date(tunnelResetAt).toISOString()}`).toEqual([]);
    expect(resetByTermination.length, "at most the two requests in flight when the termination was applied").toBeLessThanOrEqual(2);
  }, 120_000);
});

/** A request that was answered 5xx without Retry-After, or not answered. */
interface Failure {
  who: string;
  /** Epoch ms the client saw it. */
  at: number;
  /** `<status> <Vigil's code>` or `no answer: <error code>`. */
  what: string;
  /** The connection was reset under the request. */
  reset: boolean;
}

/** What a fetch over a reset connection fails with (undici: `read ECONNRESET`, a write after the RST, `other side closed`). */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/** How far apart the client may see the tunnel's reset and another flow's reset by the same termination. */
const TERMINATION_RESET_SLACK_MS = 1_000;

/** The `code` of a JSON refusal body (sidecar/errors.ts), else the start of the body. */
function vigilCode(body: string): string {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    if (typeof code === "string") return code;
  } catch {
    // not a refusal of the sidecar
  }
  return JSON.stringify(body.slice(0, 120));
}

/** The code of a fetch failure: its cause's (ECONNRESET, UND_ERR_SOCKET...) or its name (TimeoutError). */
function errorCode(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : error.name;
}
