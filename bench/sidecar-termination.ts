/**
 * `npm run bench:sidecar-termination` — only scenario 4 of `bench:sidecar` (publish a termination → RST seen on all
 * 1,000 live tunnels of one session), quickly, for profiling and A/B runs (docs/decisions/perf-0006).
 *
 * The same rig and the same round as bench:sidecar (bench/scenarios/termination.ts): its own redis-server, the echo
 * service, the built sidecar with the chart's Node flags in a memory cgroup with the chart's limit. Besides the
 * client-observed time (the target's figure) it prints the sidecar's own clock: its
 * `vigil_sidecar_termination_last_reset_timestamp_seconds` (when its reset pass ended) minus the publish time, so
 * the observer's own cost (1,000 ECONNRESETs on the same cores) can be told apart.
 *
 * Environment:
 *   BENCH_TERM_ROUNDS=20           rounds per sidecar
 *   BENCH_BASELINE_ROOT=<tree>     also run that checkout's built sidecar (`dist/`), rounds interleaved with this one's
 *                                  (order alternating), each figure printed per program
 *   BENCH_BASELINE_ENV='{"K":"V"}' extra environment of the baseline sidecar only (A/B of a setting: the baseline
 *                                  root may be this tree)
 *   BENCH_SIDECAR_NODE_ARGS="…"    extra Node flags for the sidecar(s), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
 *                                  (the profile is written when the sidecar exits at the end of the run)
 *   BENCH_PROGRAM_ROOT=<tree>      run another checkout's programs and chart as "this one" (as bench:sidecar)
 */
import { join, resolve } from "node:path";
import { runTermination, type TerminationRound } from "./scenarios/termination.ts";
import { createMemoryCgroup, memoryCgroupsAvailable, removeAllCgroups, type MemoryCgroup } from "./support/cgroup.ts";
import { chartDeployment, programRoot } from "./support/chart.ts";
import { runBench, stopAll } from "./support/children.ts";
import { raiseOpenFileLimit } from "./support/proc.ts";
import { machineLine, num, table, verdict, verdictLines } from "./support/report.ts";
import { publishPolicies, startEcho, startRedis, startUpstream, startBenchSidecar, type BenchSidecar } from "./support/rig.ts";
import { percentile, median } from "./support/stats.ts";
import { lastResetAt } from "./support/sidecar-clock.ts";
import { createBenchIssuer } from "./support/tokens.ts";
import { randomBytes } from "node:crypto";

const ROUNDS = Number(process.env["BENCH_TERM_ROUNDS"] ?? "20");
const CONNECTIONS = 1_000;
const EXTRA_ARGS = (process.env["BENCH_SIDECAR_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
const BASELINE = process.env["BENCH_BASELINE_ROOT"];
const BASELINE_ENV = JSON.parse(process.env["BENCH_BASELINE_ENV"] ?? "{}") as Record<string, string>;

interface Program {
  name: string;
  sidecar: BenchSidecar;
  rounds: TerminationRound[];
}

async function main(): Promise<void> {
  process.stdout.write(`Vigil sidecar termination benchmark\n${machineLine()}\n`);
  raiseOpenFileLimit(4 * CONNECTIONS * (BASELINE === undefined ? 1 : 2) + 1_024);
  const chart = await chartDeployment();
  const nodeArgs = [...chart.sidecar.nodeArgs, ...EXTRA_ARGS];
  const limit = chart.sidecar.memoryLimitBytes;
  const cgroups = memoryCgroupsAvailable() && Number.isFinite(limit);
  const redis = await startRedis();
  const [upstream, echoServer] = await Promise.all([startUpstream(), startEcho()]);
  const bus = await publishPolicies(redis.url, echoServer.port);
  const issuer = createBenchIssuer();
  const sessionKey = randomBytes(32);
  const start = async (name: string, root: string, env: Record<string, string> = {}): Promise<Program> => {
    const cgroup: MemoryCgroup | undefined = cgroups ? createMemoryCgroup(name, limit) : undefined;
    const sidecar = await startBenchSidecar({
      name,
      env: { VIGIL_TRUSTED_PROXIES: "127.0.0.1/32", ...env },
      redisUrl: redis.url,
      prefix: bus.prefix,
      upstreamPort: upstream.port,
      issuer,
      sessionKey,
      script: join(root, "dist/sidecar/main.js"),
      nodeArgs,
      ...(cgroup === undefined ? {} : { cgroup }),
    });
    return { name, sidecar, rounds: [] };
  };
  const programs = [await start("this", programRoot)];
  if (BASELINE !== undefined) programs.push(await start("baseline", resolve(BASELINE), BASELINE_ENV));
  process.stdout.write(
    `sidecar: node ${nodeArgs.join(" ")} <root>/dist/sidecar/main.js; this = ${programRoot}` +
      `${BASELINE === undefined ? "" : `, baseline = ${resolve(BASELINE)} ${JSON.stringify(BASELINE_ENV)}`}; memory cgroups: ${cgroups ? "yes" : "no"}\n` +
      `${ROUNDS} rounds × ${num(CONNECTIONS)} tunnels of one session per sidecar\n`,
  );
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? programs : [...programs].reverse();
    for (const p of order) {
      const [r] = await runTermination({
        rounds: 1,
        connections: CONNECTIONS,
        sidecarPort: p.sidecar.port,
        echoPort: echoServer.port,
        namespace: "shop",
        issuer,
        publisher: bus.publisher,
        label: p.name,
        ackPod: p.name,
        firstRound: round,
        sidecarResetAt: () => lastResetAt(p.sidecar.adminPort),
      });
      if (r !== undefined) p.rounds.push(r);
    }
  }
  for (const p of programs) await p.sidecar.stop();
  bus.redis.disconnect();
  process.stdout.write(`\n${summary(programs)}\n`);
}

function summary(programs: Program[]): string {
  const rows = programs.flatMap((p) => {
    const last = p.rounds.map((r) => (Number.isNaN(r.allClosedMs) ? Number.POSITIVE_INFINITY : r.allClosedMs));
    const own = p.rounds.map((r) => r.sidecarResetMs);
    const first = p.rounds.map((r) => r.firstClosedMs);
    const f = (xs: number[]): string[] => [num(median(xs), 1), num(percentile(xs, 99), 1), num(Math.min(...xs), 1)];
    return [
      [`${p.name}: publish → last RST seen by the client`, ...f(last)],
      [`${p.name}: publish → first RST seen by the client`, ...f(first)],
      [`${p.name}: publish → sidecar's reset pass ended (its clock)`, ...f(own)],
    ];
  });
  const ok = programs.every((p) => p.rounds.every((r) => r.closed === CONNECTIONS && r.closedBeforePublish === 0));
  const target = programs[0]!.rounds.map((r) => (Number.isNaN(r.allClosedMs) ? Number.POSITIVE_INFINITY : r.allClosedMs));
  return [
    table(["ms", "p50", "p99", "min"], rows),
    `all ${num(CONNECTIONS)} closed in every round: ${ok ? "yes" : "no"} (p99 of ${ROUNDS} samples, nearest rank = the maximum)`,
    verdictLines([verdict("this: termination → all 1,000 closed (client-observed), p99", percentile(target, 99), "≤", 30, " ms", 1)]),
  ].join("\n");
}

runBench(main, 15 * 60_000, async () => {
  await stopAll();
  removeAllCgroups();
});
