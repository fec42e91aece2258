/**
 * The benchmark rig: its own redis-server (no persistence), the upstream, the bare http-proxy baseline, a TCP
 * echo service, the policies on the bus, and real `vigil-sidecar` processes. Every process is tracked by PID
 * (children.ts) and stopped individually.
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { BusPublisher, openBus } from "../../operator/bus/publisher.ts";
import { keepEpochFresh, ringOf } from "../../test/builders/bus-keys.ts";
import { freePort } from "../../test/cluster/ports.ts";
import { startSidecarProcess, type SidecarProcess } from "../../test/integration/support/sidecar-process.ts";
import type { MemoryCgroup } from "./cgroup.ts";
import { startChild, startServerChild, stopChild, track, untrack, type Child } from "./children.ts";
import { benchPolicies, GUARDED, WORKLOAD } from "./policies.ts";
import type { BenchIssuer } from "./tokens.ts";

const here = import.meta.dirname;

export interface RedisServer {
  url: string;
  child: Child;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = startChild("redis-server", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--loglevel",
    "warning",
  ]);
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start:\n${child.stderr()}`, { cause: err });
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return { url, child };
}

export const startUpstream = (): Promise<Child & { port: number }> => startServerChild("upstream", resolve(here, "../servers/upstream.ts"));
export const startBareProxy = (upstreamPort: number): Promise<Child & { port: number }> =>
  startServerChild("bare-proxy", resolve(here, "../servers/bare-proxy.ts"), [String(upstreamPort)]);
export const startEcho = (): Promise<Child & { port: number }> => startServerChild("echo", resolve(here, "../servers/echo.ts"));

/** The local OIDC provider (discovery + JWKS) of the benchmark issuer; its URL is the issuer. */
export async function startOidc(jwks: unknown): Promise<Child & { port: number; issuer: string }> {
  const child = await startServerChild("oidc", resolve(here, "../servers/oidc.ts"), [JSON.stringify(jwks)]);
  return { ...child, issuer: `http://127.0.0.1:${child.port}` };
}

export interface Bus {
  prefix: string;
  redis: Redis;
  publisher: BusPublisher;
}

/** Connects a publisher and publishes the ten benchmark policies, and their all-protections copies (GUARDED). */
export async function publishPolicies(redisUrl: string, tunnelPort: number): Promise<Bus> {
  const prefix = `bench:${randomBytes(4).toString("hex")}:`;
  const redis = new Redis(redisUrl);
  const publisher = new BusPublisher({ redis, prefix, keys: () => ringOf() });
  await openBus(publisher);
  for (const policy of benchPolicies(tunnelPort)) await publisher.upsertPolicy(policy);
  for (const policy of benchPolicies(tunnelPort, GUARDED.namespace, GUARDED.session)) await publisher.upsertPolicy(policy);
  keepEpochFresh(publisher);
  return { prefix, redis, publisher };
}

export interface BenchSidecar {
  port: number;
  adminPort: number;
  pid: number;
  /** What the process printed (kept for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface BenchSidecarOptions {
  name: string;
  /** The pod's namespace and labels (default WORKLOAD's). */
  namespace?: string;
  labels?: Record<string, string>;
  redisUrl: string;
  prefix: string;
  upstreamPort: number;
  issuer: Pick<BenchIssuer, "issuer" | "audience" | "jwks">;
  sessionKey: Buffer;
  /** How long it may take to become ready (default 20 s). */
  readyTimeoutMs?: number;
  /** `dist/sidecar/main.js` (built, as the image runs it; default) or `sidecar/main.ts`. */
  script?: string;
  /** Node/V8 flags, as the chart's injected command sets them. */
  nodeArgs?: readonly string[];
  /** Extra environment (e.g. MALLOC_ARENA_MAX). */
  env?: Record<string, string>;
  /** Start it inside this memory cgroup (cgroup.ts). */
  cgroup?: MemoryCgroup;
}

export async function startBenchSidecar(opts: BenchSidecarOptions): Promise<BenchSidecar> {
  const sidecar: SidecarProcess = await startSidecarProcess({
    redisUrl: opts.redisUrl,
    busPrefix: opts.prefix,
    upstreamPort: opts.upstreamPort,
    namespace: opts.namespace ?? WORKLOAD.namespace,
    pod: opts.name,
    labels: opts.labels ?? WORKLOAD.labels,
    issuer: { issuer: opts.issuer.issuer, audience: opts.issuer.audience, jwks: opts.issuer.jwks },
    sessionKey: opts.sessionKey,
    env: { VIGIL_LOG_LEVEL: "warn", ...opts.env },
    script: opts.script ?? "dist/sidecar/main.js",
    ...(opts.nodeArgs === undefined ? {} : { nodeArgs: opts.nodeArgs }),
    ...(opts.cgroup === undefined ? {} : { cgroupProcs: opts.cgroup.procsFile }),
  });
  const pid = sidecar.pid;
  if (pid < 0) throw new Error(`${opts.name} did not start`);
  track(opts.name, pid);
  try {
    await sidecar.waitReady(opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await stopChild(pid);
    throw err;
  }
  return {
    port: sidecar.port,
    adminPort: sidecar.adminPort,
    pid,
    output: () => sidecar.output(),
    async stop() {
      await sidecar.stop();
      untrack(pid);
    },
  };
}
