/**
 * `npm run bench:sidecar` — the sidecar benchmark (issue 4; method of shared/reference/performance.md §F/§H).
 *
 * One run, everything on loopback on this machine's cores, each variant interleaved with its baselines,
 * three repetitions, medians, ratios against baselines measured in the same run:
 *   1. closed-loop throughput (wrk -t1 -c50): direct upstream, bare http-proxy (keep-alive), the sidecar with a
 *      warm token and 10 policies, the sidecar with a new token (new session) on every request;
 *   2. open loop at 1000 rps (undici Pool, 16 connections, latency from the intended send time): p50/p99 and the
 *      sidecar's added latency versus direct;
 *   3. the sidecar's CPU per 1000 rps over the open-loop window, and its RSS idle and at saturation;
 *   4. publish a termination → RST seen on all 1,000 live tunnels of one session, 20 rounds.
 * Every process started is stopped by its PID, also on failure; the whole run is bounded in time.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpenLoop, type OpenLoopRun } from "./scenarios/open-loop.ts";
import { runTermination, type TerminationRound } from "./scenarios/termination.ts";
import { runThroughput, type ThroughputRun } from "./scenarios/throughput.ts";
import { runBench, stopAll, stopChild } from "./support/children.ts";
import { pickGenerator } from "./support/closed-loop.ts";
import { peakRssMb, raiseOpenFileLimit, rssMb } from "./support/proc.ts";
import { machineLine, num, table, verdict, verdictLines, type Verdict } from "./support/report.ts";
import { publishPolicies, startBareProxy, startBenchSidecar, startEcho, startRedis, startUpstream, type BenchSidecar } from "./support/rig.ts";
import { median, percentile } from "./support/stats.ts";
import { createBenchIssuer, freshClaims, mintTokenFile } from "./support/tokens.ts";

/** BENCH_QUICK=1: a one-repetition smoke run of every scenario (figures not meaningful). */
const QUICK = process.env.BENCH_QUICK === "1";
const REPS = QUICK ? 1 : 3;
const CLOSED = { reps: REPS, seconds: QUICK ? 2 : 8, warmupSeconds: QUICK ? 1 : 2, connections: 50 };
const OPEN = { reps: REPS, rate: 1000, connections: 16, warmupMs: QUICK ? 1_000 : 2_000, measureMs: QUICK ? 2_000 : 8_000 };
const COLD_POOL = QUICK ? 10_000 : 30_000; // distinct tokens per repetition of the new-token variant
const TERMINATION = { rounds: QUICK ? 3 : 20, connections: 1_000 };
const BUDGET_MS = 12 * 60_000;
const PATH = "/catalog/items?page=1";

const verdicts: Verdict[] = [];

async function main(): Promise<void> {
  const started = performance.now();
  header();
  // The termination scenario holds ~2 fds per tunnel in this process and the sidecar, plus the rest.
  const fdLimit = raiseOpenFileLimit(4 * TERMINATION.connections + 1_024);
  const work = await mkdtemp(join(tmpdir(), "vigil-bench-"));
  try {
    const gen = pickGenerator(work);
    process.stdout.write(`closed-loop generator: ${gen.name}\n\n`);

    const redis = await startRedis();
    const [upstream, echoServer] = await Promise.all([startUpstream(), startEcho()]);
    const bare = await startBareProxy(upstream.port);
    const bus = await publishPolicies(redis.url, echoServer.port);
    const issuer = createBenchIssuer();
    const sessionKey = randomBytes(32);
    const sidecarOpts = { redisUrl: redis.url, prefix: bus.prefix, upstreamPort: upstream.port, issuer, sessionKey };
    const warm = await startBenchSidecar({ ...sidecarOpts, name: "bench-warm" });
    const cold = await startBenchSidecar({ ...sidecarOpts, name: "bench-cold" });

    const warmToken = issuer.token(freshClaims(0));
    const urls = { direct: url(upstream.port), bare: url(bare.port), warm: url(warm.port), cold: url(cold.port) };
    for (const [name, u] of Object.entries(urls)) await expectOk(name, u, warmToken);
    const idleRss = rssMb(warm.pid);

    const mintStart = performance.now();
    const pools = Array.from({ length: REPS }, (_, rep) => join(work, `tokens-${rep}.txt`));
    for (const pool of pools) await mintTokenFile(issuer, COLD_POOL, pool);
    process.stdout.write(`minted ${num(REPS * COLD_POOL)} distinct ES256 tokens (distinct sids) in ${num((performance.now() - mintStart) / 1000, 1)} s\n\n`);

    process.stdout.write("1. closed-loop throughput\n");
    const closed = await runThroughput(
      gen,
      [
        { key: "direct", label: "(a) direct to upstream", url: urls.direct, warmupToken: warmToken, auth: () => ({ token: warmToken }) },
        { key: "bare", label: "(b) bare http-proxy (KA)", url: urls.bare, warmupToken: warmToken, auth: () => ({ token: warmToken }), rssPid: bare.pid },
        { key: "warm", label: "(c) sidecar, warm token", url: urls.warm, warmupToken: warmToken, auth: () => ({ token: warmToken }), rssPid: warm.pid },
        { key: "cold", label: "(d) sidecar, new token/req", url: urls.cold, warmupToken: warmToken, auth: (rep) => ({ tokensFile: pools[rep]! }), rssPid: cold.pid },
      ],
      CLOSED,
    );
    const saturationRss = Math.max(...closed.get("warm")!.map((r) => r.maxRssMb));
    const coldRss = Math.max(...closed.get("cold")!.map((r) => r.maxRssMb));
    const bareRss = Math.max(...closed.get("bare")!.map((r) => r.maxRssMb));
    await cold.stop(); // frees a core's worth of idle timers and its memory for the latency runs

    process.stdout.write(`\n2./3. open loop at ${OPEN.rate} rps (${OPEN.connections} connections, ${OPEN.warmupMs / 1000} s warm-up, ${OPEN.measureMs / 1000} s measured)\n`);
    const open = await runOpenLoop(
      [
        { key: "direct", label: "direct", url: urls.direct, token: warmToken, cpuPid: upstream.pid },
        { key: "bare", label: "bare http-proxy (KA)", url: urls.bare, token: warmToken, cpuPid: bare.pid },
        { key: "warm", label: "sidecar, warm token", url: urls.warm, token: warmToken, cpuPid: warm.pid },
      ],
      OPEN,
    );
    const warmPeak = peakRssMb(warm.pid);
    await warm.stop();
    await stopChild(bare.pid);

    process.stdout.write(`\n4. termination → RST on ${num(TERMINATION.connections)} live tunnels of one session (${TERMINATION.rounds} rounds)\n`);
    process.stdout.write(`  open-file limit (Node has no setrlimit API but raises soft to hard at start; children inherit): ${fdLimit}\n`);
    const termSidecar: BenchSidecar = await startBenchSidecar({ ...sidecarOpts, name: "bench-term" });
    await expectOk("termination sidecar", url(termSidecar.port), warmToken);
    const rounds = await runTermination({ ...TERMINATION, sidecarPort: termSidecar.port, echoPort: echoServer.port, namespace: "shop", issuer, publisher: bus.publisher });
    await termSidecar.stop();
    bus.redis.disconnect();

    report(gen.name, closed, open, rounds, { idleRss, saturationRss, coldRss, bareRss, warmPeak });
    process.stdout.write(`\nwall time ${num((performance.now() - started) / 1000)} s\n`);
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

function header(): void {
  process.stdout.write(
    [
      "Vigil sidecar benchmark",
      machineLine(),
      "All processes (generator, proxies, upstream, Redis) share this machine's cores on loopback. Absolute numbers",
      "swing ±30 % between runs on these shared machines: read the ratios and deltas to baselines measured in this run.",
      "",
    ].join("\n") + "\n",
  );
}

const url = (port: number): string => `http://127.0.0.1:${port}${PATH}`;

async function expectOk(name: string, target: string, token: string): Promise<void> {
  const res = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status} before the benchmark: ${body}`);
}

interface Memory {
  idleRss: number;
  saturationRss: number;
  coldRss: number;
  bareRss: number;
  warmPeak: number;
}

function report(generator: string, closed: Map<string, ThroughputRun[]>, open: Map<string, OpenLoopRun[]>, rounds: TerminationRound[], mem: Memory): void {
  const rps = (key: string): number[] => closed.get(key)!.map((r) => r.rps);
  const med = (key: string): number => median(rps(key));
  const perRep = (a: string, b: string): number[] => rps(a).map((x, i) => x / rps(b)[i]!);
  const out: string[] = ["", "=".repeat(100), `RESULTS (medians of ${REPS} interleaved repetitions)`, ""];

  out.push(`1. Closed-loop throughput — ${generator}, -c${CLOSED.connections}, ${CLOSED.seconds} s per run`);
  const labels: Record<string, string> = { direct: "(a) direct to upstream", bare: "(b) bare http-proxy (keep-alive)", warm: "(c) sidecar, warm token, 10 policies", cold: "(d) sidecar, new token per request" };
  out.push(
    table(
      ["variant", ...Array.from({ length: REPS }, (_, i) => `rep ${i + 1}`), "median rps", "vs direct", "non-2xx", "sock err"],
      Object.entries(labels).map(([key, label]) => {
        const runs = closed.get(key)!;
        return [label, ...runs.map((r) => num(r.rps)), num(med(key)), `${num((100 * med(key)) / med("direct"), 1)} %`, num(runs.reduce((s, r) => s + r.non2xx, 0)), num(runs.reduce((s, r) => s + r.errors, 0))];
      }),
    ),
  );
  const coldRequests = closed.get("cold")!.map((r) => r.requests);
  out.push(`  new-token pool: ${num(COLD_POOL)} distinct tokens per repetition; requests per run ${coldRequests.map((n) => num(n)).join(" / ")}` +
    (coldRequests.some((n) => n > COLD_POOL) ? " (pool wrapped: later tokens were warm)" : " (no token reused)"));
  out.push(`  per-repetition sidecar/bare: ${perRep("warm", "bare").map((x) => num(x, 2)).join(" / ")}`);
  const v1 = [
    verdict("sidecar (warm) / bare http-proxy", med("warm") / med("bare"), "≥", 0.85),
    verdict("sidecar (warm) / direct  [§H S1]", med("warm") / med("direct"), "≥", 0.15),
    verdict("sidecar (new token) / bare  [§H S2]", med("cold") / med("bare"), "≥", 0.5),
    verdict("sidecar (new token) / direct  [§H S2]", med("cold") / med("direct"), "≥", 0.08),
  ];
  out.push(verdictLines(v1), "");

  out.push(`2. Open loop at ${OPEN.rate} rps, undici Pool ${OPEN.connections} connections, latency from intended send time (ms)`);
  const oLabels: Record<string, string> = { direct: "direct to upstream", bare: "bare http-proxy (keep-alive)", warm: "sidecar, warm token, 10 policies" };
  const omed = (key: string, f: (r: OpenLoopRun) => number): number => median(open.get(key)!.map(f));
  out.push(
    table(
      ["variant", "p50", "p90", "p99", "p99 per rep", "achieved rps", "failed", "CPU core/1k rps"],
      Object.entries(oLabels).map(([key, label]) => [
        label,
        num(omed(key, (r) => r.p50), 2),
        num(omed(key, (r) => r.p90), 2),
        num(omed(key, (r) => r.p99), 2),
        open.get(key)!.map((r) => num(r.p99, 2)).join(" / "),
        num(omed(key, (r) => r.achievedRps)),
        num(open.get(key)!.reduce((s, r) => s + r.failed, 0)),
        num(omed(key, (r) => r.corePer1k), 3),
      ]),
    ),
  );
  const added = (q: "p50" | "p99", base: string): number => omed("warm", (r) => r[q]) - omed(base, (r) => r[q]);
  out.push(`  added by the sidecar vs bare http-proxy: p50 ${num(added("p50", "bare"), 2)} ms, p99 ${num(added("p99", "bare"), 2)} ms (info)`);
  const v2 = [verdict("added p99, sidecar vs direct", added("p99", "direct"), "≤", 2, " ms"), verdict("added p50, sidecar vs direct  [§H S4]", added("p50", "direct"), "≤", 0.75, " ms")];
  out.push(verdictLines(v2), "");

  out.push("3. Sidecar CPU and memory");
  out.push(`  CPU over the open-loop window (utime+stime, all threads): ${open.get("warm")!.map((r) => `${num(r.cores, 3)} cores at ${num(r.achievedRps)} rps`).join(" / ")}`);
  out.push(`  for comparison: bare http-proxy ${num(omed("bare", (r) => r.corePer1k), 3)}, upstream alone ${num(omed("direct", (r) => r.corePer1k), 3)} core per 1000 rps`);
  out.push(`  RSS: idle ${num(mem.idleRss, 1)} MB, at saturation (max VmRSS during closed-loop runs) ${num(mem.saturationRss, 1)} MB, VmHWM ${num(mem.warmPeak, 1)} MB;`);
  out.push("       (the sidecar runs from TypeScript source through Node's type stripping, as the tests start it; the image runs compiled JS)");
  out.push(`       for comparison at saturation: bare http-proxy ${num(mem.bareRss, 1)} MB; new-token sidecar ${num(mem.coldRss, 1)} MB after up to ${num(REPS * COLD_POOL)} sessions`);
  const v3 = [
    verdict("CPU per 1000 rps (sidecar, warm)", omed("warm", (r) => r.corePer1k), "≤", 0.35, " core", 3),
    verdict("RSS at saturation (sidecar, warm)", mem.saturationRss, "≤", 96, " MB", 1),
    verdict("RSS idle (sidecar)  [§H S6]", mem.idleRss, "≤", 64, " MB", 1),
  ];
  out.push(verdictLines(v3), "");

  const times = rounds.map((r) => r.allClosedMs).map((t) => (Number.isNaN(t) ? Number.POSITIVE_INFINITY : t));
  out.push(`4. Termination → RST on all ${num(TERMINATION.connections)} live tunnels of one session (${rounds.length} rounds, fresh session each)`);
  out.push(
    table(
      ["publish → last socket closed", "p50", "p99", "max", "min"],
      [["ms", num(percentile(times, 50), 1), num(percentile(times, 99), 1), num(Math.max(...times), 1), num(Math.min(...times), 1)]],
    ),
  );
  const allReset = rounds.every((r) => r.closed === TERMINATION.connections && r.closedBeforePublish === 0);
  out.push(
    `  publish → first socket closed p50 ${num(median(rounds.map((r) => r.firstClosedMs)), 1)} ms; ECONNRESET seen per round min ${num(Math.min(...rounds.map((r) => r.resets)))}; ` +
      `acks counted ≥ ${num(Math.min(...rounds.map((r) => r.ackConnections)))} connections; all closed every round: ${allReset ? "yes" : "no"}`,
  );
  out.push(`  (p99 of ${rounds.length} samples, nearest rank = the maximum)`);
  const v4 = [verdict("termination → all 1,000 closed, p99", percentile(times, 99), "≤", 50, " ms", 1)];
  out.push(verdictLines(v4), "");

  verdicts.push(...v1, ...v2, ...v3, ...v4);
  const failed = verdicts.filter((v) => !v.met);
  out.push(`Targets met: ${verdicts.length - failed.length}/${verdicts.length}${failed.length > 0 ? `; not met: ${failed.map((v) => v.label).join("; ")}` : ""}`);
  process.stdout.write(out.join("\n") + "\n");
}

runBench(main, BUDGET_MS);
