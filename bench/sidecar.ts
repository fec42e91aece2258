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
 *   4. publish a termination → RST seen on all 1,000 live tunnels of one session, 20 rounds;
 *   5. every session protection in Enforce with geolocation on (variant "guarded": the same ten policies, `shop-web`'s
 *      session with network (ASN), device, impossible-travel + new-country and concurrent-session protections; the
 *      MaxMind test databases of test/fixtures/geoip), measured in 1. and 2. beside the warm variant: throughput ratio
 *      and added p99 at the fixed rate. Every variant sends the same browser headers from one client address that a
 *      trusted proxy (127.0.0.1) reports in X-Forwarded-For, so nothing is refused (non-2xx must be 0).
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
import { runThroughput, type ThroughputVariant } from "./scenarios/throughput.ts";
import { createMemoryCgroup, memoryCgroupsAvailable, removeAllCgroups, type MemoryCgroup } from "./support/cgroup.ts";
import { chartDeployment, programRoot } from "./support/chart.ts";
import { runBench, stopAll, stopChild } from "./support/children.ts";
import { pickGenerator } from "./support/closed-loop.ts";
import { peakRssMb, raiseOpenFileLimit, rssMb } from "./support/proc.ts";
import { machineLine, num } from "./support/report.ts";
import { GUARDED } from "./support/policies.ts";
import { publishPolicies, startBareProxy, startBenchSidecar, startEcho, startOidc, startRedis, startUpstream, type BenchSidecar } from "./support/rig.ts";
import { createBenchIssuer, freshClaims, mintTokenFile, newIssuerKey } from "./support/tokens.ts";
import { report, type Measured, type Settings } from "./sidecar/report.ts";
import { lastResetAt } from "./support/sidecar-clock.ts";
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
const BUDGET_MS = 18 * 60_000;
const PATH = "/catalog/items?page=1";
const GEOIP = join(import.meta.dirname, "../test/fixtures/geoip");
/**
 * What every request carries besides its token: a browser's headers (what device binding fingerprints) and, through
 * a trusted proxy (every sidecar trusts 127.0.0.1), a client address that the MaxMind test databases place in San
 * Diego, US, in an autonomous system (what network binding and impossible travel look up).
 */
const CLIENT_HEADERS = {
  "x-forwarded-for": "214.78.120.1",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "accept-language": "en-GB,en;q=0.9",
  "sec-ch-ua-platform": '"Linux"',
};
const SIDECAR_ENV = { VIGIL_TRUSTED_PROXIES: "127.0.0.1/32" };
const GUARDED_ENV = {
  VIGIL_GEOIP_CITY_DATABASE: join(GEOIP, "GeoIP2-City-Test.mmdb"),
  VIGIL_GEOIP_ASN_DATABASE: join(GEOIP, "GeoLite2-ASN-Test.mmdb"),
};

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
    const sidecar = async (
      name: string,
      extra: { namespace?: string; env?: Record<string, string> } = {},
    ): Promise<BenchSidecar & { cgroup: MemoryCgroup | undefined }> => {
      const cgroup = cgroups ? createMemoryCgroup(name, limit) : undefined;
      if (cgroup !== undefined) groups.push(cgroup);
      const s = await startBenchSidecar({
        name,
        ...(extra.namespace === undefined ? {} : { namespace: extra.namespace }),
        env: { ...SIDECAR_ENV, ...extra.env },
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
    const guarded = await sidecar("guarded", { namespace: GUARDED.namespace, env: GUARDED_ENV });
    const peer = await startOauth2Proxy({ bin: peerBin, upstreamPort: upstream.port, issuerUrl: oidc.issuer, clientId: issuer.audience });

    const warmToken = issuer.token(freshClaims(0));
    const urls = {
      direct: url(upstream.port),
      bare: url(bare.port),
      warm: url(warm.port),
      cold: url(cold.port),
      peer: url(peer.port),
      guarded: url(guarded.port),
    };
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
          auth: (rep: number) => ({ tokensFile: pools[rep]! }),
          rssPid: cold.pid,
        },
        { key: "peer", label: `(e) oauth2-proxy v${peer.version}`, url: urls.peer, warmupToken: warmToken, auth: fixed, rssPid: peer.pid },
        { key: "guarded", label: "(f) sidecar, all protections", url: urls.guarded, warmupToken: warmToken, auth: fixed, rssPid: guarded.pid },
      ].map((v): ThroughputVariant => ({ ...v, headers: CLIENT_HEADERS })),
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
        { key: "guarded", label: "sidecar, all protections", url: urls.guarded, token: warmToken, cpuPid: guarded.pid },
      ].map((v) => ({ ...v, headers: CLIENT_HEADERS })),
      SETTINGS.open,
    );
    const protectionsCheck = await protectionsRefuse(urls.guarded, issuer.token(freshClaims(0)));
    await guarded.stop();
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
      sidecarResetAt: () => lastResetAt(term.adminPort),
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
      protectionsCheck,
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
  const res = await fetch(target, { headers: { ...CLIENT_HEADERS, authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status} before the benchmark: ${body}`);
}

/**
 * After the measurements: the guarded sidecar's protections were on. A new session of the benchmark user (not the
 * warm token's: Enforce ends the session everywhere) starts from the benchmark's address, then comes from another
 * autonomous system (1.0.0.1, AS 15169 in the test database): that must be refused with SESSION_NETWORK_CHANGED.
 */
async function protectionsRefuse(target: string, token: string): Promise<string> {
  await expectOk("guarded sidecar, new session", target, token);
  const res = await fetch(target, { headers: { ...CLIENT_HEADERS, "x-forwarded-for": "1.0.0.1", authorization: `Bearer ${token}` } });
  const body = await res.text();
  const code = /SESSION_[A-Z_]+/.exec(body)?.[0] ?? body.slice(0, 80);
  return `a new session moved to another autonomous system was answered ${res.status} ${code}`;
}

runBench(main, BUDGET_MS, async () => {
  await stopAll();
  removeAllCgroups();
});
