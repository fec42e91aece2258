/**
 * vigil-operator as the benchmarks run it: the built `dist/operator/main.js` (of this checkout or
 * BENCH_PROGRAM_ROOT) with the Node flags of the chart's operator Deployment, its bus signing and session key rings
 * written to a scratch directory, webhook off, registered with children.ts (stopped by PID).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSigningDir } from "../../test/builders/bus-keys.ts";
import { freePort } from "../../test/cluster/ports.ts";
import { programRoot } from "./chart.ts";
import { startChild, type Child } from "./children.ts";

export interface BenchOperator extends Child {
  adminPort: number;
}

export async function startBenchOperator(opts: {
  kubeconfig: string;
  redisUrl: string;
  prefix: string;
  namespace: string;
  nodeArgs: readonly string[];
  env?: Record<string, string>;
  /** The session key ring's key (the sidecars' key ring must hold the same key); a new random key by default. */
  sessionKey?: Buffer;
  /** Start it inside this memory cgroup (its `cgroup.procs`; the shell writes its PID there, then execs Node). */
  cgroupProcs?: string;
}): Promise<BenchOperator> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-operator-"));
  const signing = await writeSigningDir(join(dir, "bus-signing"));
  const sessionKeys = join(dir, "session-keys");
  await mkdir(sessionKeys);
  await writeFile(join(sessionKeys, "k1"), opts.sessionKey ?? randomBytes(32));
  await writeFile(join(sessionKeys, "primary"), "k1");
  const adminPort = await freePort();
  const argv = [...opts.nodeArgs, join(programRoot, "dist/operator/main.js")];
  const [command, args] =
    opts.cgroupProcs === undefined ? [process.execPath, argv] : ["/bin/sh", ["-c", 'echo $$ > "$0" && exec "$@"', opts.cgroupProcs, process.execPath, ...argv]];
  const child = startChild("vigil-operator", command, args, {
    PATH: process.env["PATH"] ?? "",
    KUBECONFIG: opts.kubeconfig,
    VIGIL_REDIS_URL: opts.redisUrl,
    VIGIL_BUS_PREFIX: opts.prefix,
    VIGIL_WATCH_NAMESPACE: opts.namespace,
    VIGIL_LEASE_NAMESPACE: opts.namespace,
    VIGIL_IDENTITY: "bench-operator",
    VIGIL_ADMIN_PORT: String(adminPort),
    VIGIL_BUS_SIGNING_KEYS_DIR: signing,
    VIGIL_SESSION_KEY_RING_DIR: sessionKeys,
    VIGIL_LOG_LEVEL: "info",
    ...opts.env,
  });
  return { ...child, adminPort };
}

/**
 * The baseline of the operator's memory: a bare Node process with the same flags (an HTTP server listening, nothing
 * else), registered with children.ts; resolves once it listens. Its RSS is the floor of any Node program.
 */
export async function startBareNode(nodeArgs: readonly string[]): Promise<Child> {
  const script = 'require("node:http").createServer().listen(0, "127.0.0.1", () => console.log("listening"))';
  const child = startChild("bare-node", process.execPath, [...nodeArgs, "-e", script], { PATH: process.env["PATH"] ?? "" });
  await child.nextLine((l) => l === "listening", 20_000);
  await new Promise((r) => setTimeout(r, 1_000));
  return child;
}
