/**
 * `npm run bench:sidecar` — the sidecar benchmark (issues 4 and 11; method of shared/reference/performance.md §F/§H,
 * docs/decisions/bench-0001 and perf-0002).
 *
 * One run, everything on loopback on this machine's cores, each variant interleaved with its baselines, three
 * repetitions, medians, ratios against baselines measured in the same run. The sidecar runs as the image runs it:
 * the built `dist/sidecar/main.js` (`npm run build` first) with the Node flags the chart's injection puts on its
 * command, each sidecar inside a memory cgroup (v1) with the chart's memory limit:
 *   1. closed-loop throughput (wrk -t1 -c50, 3 × (5 s warm-up + 15 s) = 60 s of saturation per variant): direct
 *      upstream, bare http-proxy (keep-alive), the sidecar with a warm token and 10 policies, the sidecar with a new
 *      token (new session) on every request, and the peer, oauth2-proxy v7, verifying the same JWTs;
 *   2. open loop at 1000 rps (undici Pool, 16 connections, latency from the intended send time): p50/p99, added
 *      latency versus direct, CPU per 1000 rps;
 *   3. memory: RSS idle and at saturation, what each memory cgroup charged at its peak, limit hits and OOM kills;
 *   4. publish a termination → RST seen on all 1,000 live tunnels of one session, 20 rounds.
 * Every process started is stopped by its PID, every cgroup created is removed, also on failure; the run is bounded
 * in time. BENCH_QUICK=1: one short repetition (smoke run; figures not meaningful). BENCH_PROGRAM_ROOT=<tree>: run
 * another checkout's built programs and chart with this benchmark (the "before" figures).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOauth2Proxy, startOauth2Proxy } from "./peers/oauth2-proxy.ts";
import { runOpenLoop } from "./scenarios/open-loop.ts";
import { runTermination } from "./scenarios/termination.ts";
import { runThroughput } from "./scenarios/throughput.ts";
import { createMemoryCgroup, memoryCgroupsAvailable, removeAllCgroups, type MemoryCgroup } from "./support/cgroup.ts";
import { chartDeployment, programRoot } from "./support/chart.ts";
import { runBench, stopAll, stopChild } from "./support/children.ts";
import { pickGenerator } from "./support/closed-loop.ts";
import { peakRssMb, raiseOpenFileLimit, rssMb } from "./support/proc.ts";
import { machineLine, num } from "./support/report.ts";
import { publishPolicies, startBareProxy, startBenchSidecar, startEcho, startOidc, startRedis, startUpstream, type BenchSidecar } from "./support/rig.ts";
import { createBenchIssuer, freshClaims, mintTokenFile, newIssuerKey } from "./support/tokens.ts";
import { report, type Measured, type Settings } from "./sidecar/report.ts";
import { cachedLogins, BYTES_PER_CACHED_LOGIN } from "../sidecar/memory-budget.ts";

const QUICK = process.env.BENCH_QUICK === "1";
const REPS = QUICK ? 1 : 3;
const SETTINGS: Settings = {
  reps: REPS,
  closed: { reps: REPS, seconds: QUICK ? 3 : 15, warmupSeconds: QUICK ? 1 : 5, connections: 50 },
  open: { reps: REPS, rate: 1000, connections: 16, warmupMs: QUICK ? 1_000 : 2_000, measureMs: QUICK ? 2_000 : 8_000 },
  coldPool: QUICK ? 10_000 : 40_000,
  termination: { rounds: QUICK ? 3 : 20, connections: 1_000 },
};
const BUDGET_MS = 16 * 60_000;
const PATH = "/catalog/items?page=1";

async function main(): Promise<void> {
  const started = performance.now();
  process.stdout.write(
    [
      "Vigil sidecar benchmark",
      machineLine(),
      "All processes (generator, proxies, upstream, Redis) share this machine's cores on loopback. Absolute numbers",
      "swing ±30 % between runs on these shared machines: read the ratios and deltas to baselines measured in this run.",
      "",
    ].join("\n") + "\n",
  );
  const fdLimit = raiseOpenFileLimit(4 * SETTINGS.termination.connections + 1_024);
  const work = await mkdtemp(join(tmpdir(), "vigil-bench-"));
  try {
    const gen = pickGenerator(work);
    const chart = await chartDeployment();
    const sidecarScript = join(programRoot, "dist/sidecar/main.js");
    const nodeArgs = chart.sidecar.nodeArgs;
    const limit = chart.sidecar.memoryLimitBytes;
    const cgroups = memoryCgroupsAvailable() && Number.isFinite(limit);
    const peerBin = await buildOauth2Proxy();
    const heapLimit = heapLimitOf(nodeArgs);
    process.stdout.write(
      `closed-loop generator: ${gen.name}\n` +
        `sidecar: node ${[...nodeArgs, sidecarScript].join(" ")}  (the chart's injected command; memory request ${mib(chart.sidecar.memoryRequestBytes)}, limit ${mib(limit)})\n` +
        `memory cgroups (v1) with the chart's limit: ${cgroups ? "yes, one per sidecar" : "NOT AVAILABLE on this machine"}\n` +
        `peer: ${peerBin}\n\n`,
    );

    const redis = await startRedis();
    const [upstream, echoServer] = await Promise.all([startUpstream(), startEcho()]);
    const bare = await startBareProxy(upstream.port);
    const bus = await publishPolicies(redis.url, echoServer.port);
    const key = newIssuerKey();
    const oidc = await startOidc({ keys: [key.jwk] });
    const issuer = createBenchIssuer(oidc.issuer, key);
    const sessionKey = randomBytes(32);
    const groups: MemoryCgroup[] = [];
    const sidecar = async (name: string): Promise<BenchSidecar & { cgroup: MemoryCgroup | undefined }> => {
      const cgroup = cgroups ? createMemoryCgroup(name, limit) : undefined;
      if (cgroup !== undefined) groups.push(cgroup);
      const s = await startBenchSidecar({
        name,
        redisUrl: redis.url,
        prefix: bus.prefix,
        upstreamPort: upstream.port,
        issuer,
        sessionKey,
        script: sidecarScript,
        nodeArgs,
        ...(cgroup === undefined ? {} : { cgroup }),
      });
      return { ...s, cgroup };
    };
    const warm = await sidecar("warm");
    const cold = await sidecar("cold");
    const peer = await startOauth2Proxy({ bin: peerBin, upstreamPort: upstream.port, issuerUrl: oidc.issuer, clientId: issuer.audience });

    const warmToken = issuer.token(freshClaims(0));
    const urls = { direct: url(upstream.port), bare: url(bare.port), warm: url(warm.port), cold: url(cold.port), peer: url(peer.port) };
    for (const [name, u] of Object.entries(urls)) await expectOk(name, u, warmToken);
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = { warm: rssMb(warm.pid), warmAnon: anonMb(warm.pid), peer: rssMb(peer.pid), bare: rssMb(bare.pid) };

    const mintStart = performance.now();
    const pools = Array.from({ length: REPS }, (_, rep) => join(work, `tokens-${rep}.txt`));
    for (const pool of pools) await mintTokenFile(issuer, SETTINGS.coldPool, pool);
    process.stdout.write(
      `minted ${num(REPS * SETTINGS.coldPool)} distinct ES256 tokens (distinct sids) in ${num((performance.now() - mintStart) / 1000, 1)} s\n\n`,
    );

    process.stdout.write("1. closed-loop throughput\n");
    const fixed = (): { token: string } => ({ token: warmToken });
    const closed = await runThroughput(
      gen,
      [
        { key: "direct", label: "(a) direct to upstream", url: urls.direct, warmupToken: warmToken, auth: fixed, rssPid: upstream.pid },
        { key: "bare", label: "(b) bare http-proxy (KA)", url: urls.bare, warmupToken: warmToken, auth: fixed, rssPid: bare.pid },
        { key: "warm", label: "(c) sidecar, warm token", url: urls.warm, warmupToken: warmToken, auth: fixed, rssPid: warm.pid },
        {
          key: "cold",
          label: "(d) sidecar, new token/req",
          url: urls.cold,
          warmupToken: warmToken,
          auth: (rep) => ({ tokensFile: pools[rep]! }),
          rssPid: cold.pid,
        },
        { key: "peer", label: `(e) oauth2-proxy v${peer.version}`, url: urls.peer, warmupToken: warmToken, auth: fixed, rssPid: peer.pid },
      ],
      SETTINGS.closed,
    );
    const coldCgroup = cold.cgroup?.stats();
    await cold.stop();

    process.stdout.write(
      `\n2./3. open loop at ${SETTINGS.open.rate} rps (${SETTINGS.open.connections} connections, ${SETTINGS.open.warmupMs / 1000} s warm-up, ${SETTINGS.open.measureMs / 1000} s measured)\n`,
    );
    const open = await runOpenLoop(
      [
        { key: "direct", label: "direct", url: urls.direct, token: warmToken, cpuPid: upstream.pid },
        { key: "bare", label: "bare http-proxy (KA)", url: urls.bare, token: warmToken, cpuPid: bare.pid },
        { key: "warm", label: "sidecar, warm token", url: urls.warm, token: warmToken, cpuPid: warm.pid },
        { key: "peer", label: "oauth2-proxy", url: urls.peer, token: warmToken, cpuPid: peer.pid },
      ],
      SETTINGS.open,
    );
    const warmPeak = peakRssMb(warm.pid);
    const warmCgroup = warm.cgroup?.stats();
    await warm.stop();
    await stopChild(peer.pid);
    await stopChild(bare.pid);

    process.stdout.write(
      `\n4. termination → RST on ${num(SETTINGS.termination.connections)} live tunnels of one session (${SETTINGS.termination.rounds} rounds)\n`,
    );
    process.stdout.write(`  open-file limit (Node has no setrlimit API but raises soft to hard at start; children inherit): ${fdLimit}\n`);
    const term = await sidecar("term");
    await expectOk("termination sidecar", url(term.port), warmToken);
    const termIdle = rssMb(term.pid);
    const rounds = await runTermination({
      ...SETTINGS.termination,
      sidecarPort: term.port,
      echoPort: echoServer.port,
      namespace: "shop",
      issuer,
      publisher: bus.publisher,
    });
    const termPeak = peakRssMb(term.pid);
    const termCgroup = term.cgroup?.stats();
    await term.stop();
    bus.redis.disconnect();

    const measured: Measured = {
      generator: gen.name,
      closed,
      open,
      rounds,
      memory: {
        idleRss: idle.warm,
        idleAnon: idle.warmAnon,
        peerIdleRss: idle.peer,
        bareIdleRss: idle.bare,
        warmPeak,
        termIdle,
        termPeak,
        limitBytes: limit,
        cgroups: cgroups ? { warm: warmCgroup, cold: coldCgroup, term: termCgroup } : undefined,
        logins: cachedLogins(heapLimit),
        heapLimitMb: heapLimit / 1048576,
        bytesPerLogin: BYTES_PER_CACHED_LOGIN,
      },
      nodeArgs,
      peerVersion: peer.version,
    };
    for (const g of groups) g.remove();
    process.stdout.write(report(measured, SETTINGS) + "\n");
    process.stdout.write(`\nwall time ${num((performance.now() - started) / 1000)} s\n`);
  } finally {
    await stopAll();
    removeAllCgroups();
    await rm(work, { recursive: true, force: true });
  }
}

const url = (port: number): string => `http://127.0.0.1:${port}${PATH}`;
const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${num(bytes / 1048576)} MiB` : "none");

function anonMb(pid: number): number {
  const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

/** V8's heap limit under these flags (what the sidecar sizes its caches from), read from a Node started with them. */
function heapLimitOf(nodeArgs: readonly string[]): number {
  return Number(execFileSync(process.execPath, [...nodeArgs, "-p", "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: "utf8" }).trim());
}

async function expectOk(name: string, target: string, token: string): Promise<void> {
  const res = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status} before the benchmark: ${body}`);
}

runBench(main, BUDGET_MS, async () => {
  await stopAll();
  removeAllCgroups();
});
