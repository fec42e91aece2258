/**
 * Runs the real `vigil-sidecar` (node sidecar/main.ts, or the built dist/sidecar/main.js) as a child process (local-process.ts) with the files the injection would
 * mount (pod labels, issuers, key ring) written to a temp dir. Stopped by its PID.
 */
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JWK } from "jose";
import { writeVerifyDir } from "../../builders/bus-keys.ts";
import { freePort } from "../../cluster/ports.ts";
import { startLocalProcess, waitForReadyz } from "./local-process.ts";

export interface SidecarProcessOptions {
  redisUrl: string;
  busPrefix: string;
  upstreamPort: number;
  namespace: string;
  pod: string;
  labels: Record<string, string>;
  issuer: { issuer: string; audience: string; jwks: { keys: JWK[] } };
  /** Session-encryption key (the chart's key-ring Secret): sidecars of one install share it. */
  sessionKey: Buffer;
  env?: Record<string, string>;
  /** The program to run, relative to the repository: `sidecar/main.ts` (default) or `dist/sidecar/main.js` (built, as the image runs it). */
  script?: string;
  /** Node/V8 flags before the script (as the chart's injected command sets them). */
  nodeArgs?: readonly string[];
  /** Start the process inside this memory cgroup (its `cgroup.procs` file; see local-process.ts). */
  cgroupProcs?: string;
}

export interface SidecarProcess {
  port: number;
  adminPort: number;
  pid: number;
  output(): string;
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function sidecarFiles(dir: string, opts: Pick<SidecarProcessOptions, "labels" | "issuer" | "sessionKey">): Promise<Record<string, string>> {
  const keys = join(dir, "keys");
  await mkdir(keys);
  await writeFile(join(keys, "k1"), opts.sessionKey);
  await writeFile(join(keys, "primary"), "k1");
  await writeFile(
    join(dir, "labels"),
    Object.entries(opts.labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n"),
  );
  await writeFile(
    join(dir, "issuers.json"),
    JSON.stringify([{ issuer: opts.issuer.issuer, audiences: [opts.issuer.audience], algorithms: ["ES256"], jwks: opts.issuer.jwks }]),
  );
  const busKeys = await writeVerifyDir(join(dir, "bus-keys"));
  return { VIGIL_POD_LABELS_FILE: join(dir, "labels"), VIGIL_ISSUERS_FILE: join(dir, "issuers.json"), VIGIL_KEY_RING_DIR: keys, VIGIL_BUS_KEYS_DIR: busKeys };
}

export async function startSidecarProcess(opts: SidecarProcessOptions): Promise<SidecarProcess> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-sidecar-"));
  const [port, adminPort] = [await freePort(), await freePort()];
  const env = {
    ...(await sidecarFiles(dir, opts)),
    VIGIL_POD_NAME: opts.pod,
    VIGIL_POD_NAMESPACE: opts.namespace,
    VIGIL_UPSTREAM_PORT: String(opts.upstreamPort),
    VIGIL_LISTEN_HOST: "127.0.0.1",
    VIGIL_LISTEN_PORT: String(port),
    VIGIL_ADMIN_PORT: String(adminPort),
    VIGIL_REDIS_URL: opts.redisUrl,
    VIGIL_BUS_PREFIX: opts.busPrefix,
    VIGIL_HEARTBEAT_INTERVAL_MS: "300",
    ...opts.env,
  };
  const proc = startLocalProcess(opts.script ?? "sidecar/main.ts", env, {
    ...(opts.nodeArgs === undefined ? {} : { nodeArgs: opts.nodeArgs }),
    ...(opts.cgroupProcs === undefined ? {} : { cgroupProcs: opts.cgroupProcs }),
  });
  // The sidecar reads its files at start; once it has exited they go, however it was stopped (tests, benches).
  void proc.exited.then(() => rm(dir, { recursive: true, force: true }));
  return {
    port,
    adminPort,
    pid: proc.pid,
    output: () => proc.output(),
    waitReady: (timeoutMs = 15_000) => waitForReadyz(proc, adminPort, "sidecar", timeoutMs),
    async stop() {
      await proc.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
