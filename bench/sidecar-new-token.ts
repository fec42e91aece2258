/**
 * `npm run bench:sidecar-new-token` — issue 11's new-token variant on its own, quickly, optionally A/B against
 * another build (docs/decisions/perf-0007). Closed loop only (wrk -t1 -c50, the method of bench-0001): bare
 * http-proxy, the sidecar with a warm token and the sidecar with a new token (new ES256 verification, new session)
 * on every request, interleaved and rotated per repetition; medians; both ratios (new ÷ bare, warm ÷ bare) from the
 * same runs. Each sidecar runs as the chart injects it (built `dist/sidecar/main.js`, the chart's Node flags, a
 * memory cgroup with the chart's limit when available).
 *
 * BENCH_PROGRAM_ROOT_BEFORE=<tree with dist/ built>[,<another>…]: those builds' warm and new-token sidecars run in
 * the same repetitions beside this tree's (same Redis, upstream, bare proxy and flags). CPU per request (the sidecar
 * process's user+system time ÷ requests answered) is printed beside the ratios: on a shared, loaded machine it moves
 * less than throughput does. BENCH_REPS (default 3),
 * BENCH_SECONDS (default 10). BENCH_CPU_PROF=<dir>: the sidecars run with `--cpu-prof` into that directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { runThroughput, type ThroughputRun, type ThroughputVariant } from "./scenarios/throughput.ts";
import { createMemoryCgroup, memoryCgroupsAvailable, removeAllCgroups } from "./support/cgroup.ts";
import { chartDeployment } from "./support/chart.ts";
import { runBench, stopAll, stopChild } from "./support/children.ts";
import { pickGenerator } from "./support/closed-loop.ts";
import { machineLine, num, table } from "./support/report.ts";
import { publishPolicies, startBareProxy, startBenchSidecar, startRedis, startUpstream, type BenchSidecar } from "./support/rig.ts";
import { createBenchIssuer, freshClaims, mintTokenFile } from "./support/tokens.ts";
import { randomBytes } from "node:crypto";

const REPS = Number(process.env["BENCH_REPS"] ?? 3);
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 10);
/** Distinct tokens per new-token run: enough for 2,500 rps without reuse. */
const POOL = 2_500 * SECONDS;
const HEADERS = { "x-forwarded-for": "214.78.120.1", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) bench" };
const PATH = "/catalog/items?page=1";

interface Program {
  name: string;
  root: string;
}

async function main(): Promise<void> {
  process.stdout.write(`Vigil sidecar, new token per request\n${machineLine()}\n`);
  const programs: Program[] = [{ name: "this tree", root: resolve(import.meta.dirname, "..") }];
  const before = (process.env["BENCH_PROGRAM_ROOT_BEFORE"] ?? "").split(",").filter((p) => p !== "");
  programs.unshift(...before.map((p, i) => ({ name: before.length === 1 ? "before" : `before ${i + 1} (${basename(p)})`, root: resolve(p) })));
  const work = await mkdtemp(join(tmpdir(), "vigil-bench-newtok-"));
  try {
    const gen = pickGenerator(work);
    const chart = await chartDeployment();
    const prof = process.env["BENCH_CPU_PROF"];
    const nodeArgs = [...chart.sidecar.nodeArgs, ...(prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`])];
    const cgroups = memoryCgroupsAvailable() && Number.isFinite(chart.sidecar.memoryLimitBytes);
    process.stdout.write(`generator: ${gen.name}\nsidecar flags: ${nodeArgs.join(" ")}; memory cgroups: ${cgroups ? "yes" : "no"}\n`);
    const redis = await startRedis();
    const upstream = await startUpstream();
    const bare = await startBareProxy(upstream.port);
    const bus = await publishPolicies(redis.url, upstream.port);
    const issuer = createBenchIssuer();
    const sessionKey = randomBytes(32);
    const sidecars: { key: string; program: Program; kind: "warm" | "new"; s: BenchSidecar; peak: () => number }[] = [];
    for (const program of programs)
      for (const kind of ["warm", "new"] as const) {
        const name = `${kind}-${sidecars.length}`;
        const cgroup = cgroups ? createMemoryCgroup(name, chart.sidecar.memoryLimitBytes) : undefined;
        const s = await startBenchSidecar({
          name,
          env: { VIGIL_TRUSTED_PROXIES: "127.0.0.1/32" },
          redisUrl: redis.url,
          prefix: bus.prefix,
          upstreamPort: upstream.port,
          issuer,
          sessionKey,
          script: join(program.root, "dist/sidecar/main.js"),
          nodeArgs,
          ...(cgroup === undefined ? {} : { cgroup }),
        });
        sidecars.push({ key: name, program, kind, s, peak: () => (cgroup === undefined ? Number.NaN : cgroup.stats().maxUsageBytes / 1e6) });
      }
    const warmToken = issuer.token(freshClaims(0));
    const pools = new Map<string, string>();
    for (const c of sidecars.filter((x) => x.kind === "new"))
      for (let rep = 0; rep < REPS; rep++) {
        const file = join(work, `${c.key}-${rep}.txt`);
        await mintTokenFile(issuer, POOL, file);
        pools.set(`${c.key}-${rep}`, file);
      }
    const url = (port: number): string => `http://127.0.0.1:${port}${PATH}`;
    const fixed = (): { token: string } => ({ token: warmToken });
    const variants: ThroughputVariant[] = [
      { key: "bare", label: "bare http-proxy", url: url(bare.port), warmupToken: warmToken, auth: fixed, rssPid: bare.pid, headers: HEADERS },
      ...sidecars.map((c) => ({
        key: c.key,
        label: `${c.program.name}: ${c.kind === "warm" ? "warm token" : "new token/req"}`,
        url: url(c.s.port),
        warmupToken: warmToken,
        auth: c.kind === "warm" ? fixed : (rep: number) => ({ tokensFile: pools.get(`${c.key}-${rep}`)! }),
        rssPid: c.s.pid,
        headers: HEADERS,
      })),
    ];
    const runs = await runThroughput(gen, variants, { reps: REPS, seconds: SECONDS, warmupSeconds: 3, connections: 50 });
    const bareRps = median(runs.get("bare")!.map((r) => r.rps));
    const rows = sidecars.map((c) => row(c.program.name, c.kind, runs.get(c.key)!, runs.get("bare")!, c.peak()));
    process.stdout.write(`\nbare http-proxy median ${num(bareRps)} rps\n`);
    process.stdout.write(
      table(
        [
          "program",
          "variant",
          "median rps",
          "÷ bare",
          "per-rep ÷ bare",
          "cores",
          "CPU ms/req",
          "per-rep CPU ms/req",
          "max RSS MB",
          "cgroup peak MB",
          "non-2xx+errors",
        ],
        rows,
      ) + "\n",
    );
    process.stdout.write(`${machineLine()}\n`);
    for (const c of sidecars) await c.s.stop();
    await stopChild(bare.pid);
    bus.redis.disconnect();
  } finally {
    await stopAll();
    removeAllCgroups();
    await rm(work, { recursive: true, force: true });
  }
}

function row(program: string, kind: string, runs: ThroughputRun[], bare: ThroughputRun[], peakMb: number): string[] {
  const rps = median(runs.map((r) => r.rps));
  const bareRps = median(bare.map((r) => r.rps));
  return [
    program,
    kind,
    num(rps),
    num(rps / bareRps, 2),
    runs.map((r, i) => num(r.rps / (bare[i]?.rps ?? Number.NaN), 2)).join(" "),
    num(median(runs.map((r) => r.cores)), 2),
    num(median(runs.map(cpuMsPerRequest)), 3),
    runs.map((r) => num(cpuMsPerRequest(r), 3)).join(" "),
    num(Math.max(...runs.map((r) => r.maxRssMb)), 1),
    num(peakMb, 1),
    String(runs.reduce((n, r) => n + r.non2xx + r.errors, 0)),
  ];
}

const cpuMsPerRequest = (r: ThroughputRun): number => (1000 * r.cores) / r.rps;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
}

runBench(main, 20 * 60_000, async () => {
  await stopAll();
  removeAllCgroups();
});
