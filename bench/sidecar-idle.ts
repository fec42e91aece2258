/**
 * `npm run bench:sidecar-idle` — the sidecar's idle memory alone (issue 11: "RSS idle ≤ 64 MB"), quicker than the
 * whole `bench:sidecar` and with a breakdown (docs/decisions/perf-0004-sidecar-idle-memory.md). The built
 * `dist/sidecar/main.js` runs with the chart's Node flags (helm template of the default values), as in
 * `bench:sidecar`: its own redis-server, the ten benchmark policies on the bus, one request with a token through it,
 * two seconds of quiet, then /proc/<pid>/status (VmRSS and its anonymous / file parts). A bare Node HTTP server with
 * the same flags is the floor. BENCH_IDLE_RUNS (default 3) sidecars, one after the other; medians.
 * BENCH_IDLE_GUARDED=1: the sidecar of the all-protections namespace with the MaxMind test databases (GeoIP loaded).
 * BENCH_IDLE_NODE_ARGS="--flag …": more Node flags after the chart's (to try one); BENCH_IDLE_ENV='{"K":"v"}': more
 * environment for the sidecar (e.g. MALLOC_ARENA_MAX). BENCH_PROGRAM_ROOT=<tree>: another checkout's built program and
 * chart (the "before" figures).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chartDeployment, programRoot } from "./support/chart.ts";
import { runBench, startChild, stopChild } from "./support/children.ts";
import { GUARDED } from "./support/policies.ts";
import { machineLine, num } from "./support/report.ts";
import { publishPolicies, startBenchSidecar, startEcho, startRedis, startUpstream } from "./support/rig.ts";
import { median } from "./support/stats.ts";
import { createBenchIssuer, freshClaims } from "./support/tokens.ts";

const RUNS = Number(process.env["BENCH_IDLE_RUNS"] ?? "3");
const GUARDED_RUN = process.env["BENCH_IDLE_GUARDED"] === "1";
const GEOIP = join(import.meta.dirname, "../test/fixtures/geoip");
const EXTRA_ARGS = (process.env["BENCH_IDLE_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
const EXTRA_ENV = JSON.parse(process.env["BENCH_IDLE_ENV"] ?? "{}") as Record<string, string>;
const SETTLE_MS = 2_000;
const BARE_SERVER = "require('node:http').createServer((q,s)=>s.end('ok')).listen(0,'127.0.0.1')";

interface Figures {
  rss: number;
  anon: number;
  file: number;
}

function figures(pid: number): Figures {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));

function line(label: string, runs: Figures[]): string {
  const m = (pick: (f: Figures) => number): string => num(median(runs.map(pick)), 1);
  const each = runs.map((f) => num(f.rss, 1)).join(" / ");
  return `  ${label.padEnd(22)} VmRSS ${m((f) => f.rss).padStart(6)} MB (runs ${each})  anon ${m((f) => f.anon)}  file ${m((f) => f.file)}\n`;
}

async function main(): Promise<void> {
  const chart = await chartDeployment();
  const nodeArgs = [...chart.sidecar.nodeArgs, ...EXTRA_ARGS];
  const script = join(programRoot, "dist/sidecar/main.js");
  process.stdout.write(
    `Vigil sidecar idle memory\n${machineLine()}\nsidecar: node ${[...nodeArgs, script].join(" ")}${Object.keys(EXTRA_ENV).length > 0 ? `  env ${JSON.stringify(EXTRA_ENV)}` : ""}\n`,
  );
  const redis = await startRedis();
  const [upstream, echo] = await Promise.all([startUpstream(), startEcho()]);
  const bus = await publishPolicies(redis.url, echo.port);
  const issuer = createBenchIssuer();
  const token = issuer.token(freshClaims(0));
  const sessionKey = randomBytes(32);
  const bare: Figures[] = [];
  const sidecar: Figures[] = [];
  for (let run = 0; run < RUNS; run++) {
    const floor = startChild("bare-node", process.execPath, [...nodeArgs, "-e", BARE_SERVER], { ...process.env, ...EXTRA_ENV });
    await settle();
    bare.push(figures(floor.pid));
    await stopChild(floor.pid);
    const s = await startBenchSidecar({
      name: `idle-${run}`,
      ...(GUARDED_RUN ? { namespace: GUARDED.namespace } : {}),
      env: {
        VIGIL_TRUSTED_PROXIES: "127.0.0.1/32",
        ...EXTRA_ENV,
        ...(GUARDED_RUN
          ? { VIGIL_GEOIP_CITY_DATABASE: join(GEOIP, "GeoIP2-City-Test.mmdb"), VIGIL_GEOIP_ASN_DATABASE: join(GEOIP, "GeoLite2-ASN-Test.mmdb") }
          : {}),
      },
      redisUrl: redis.url,
      prefix: bus.prefix,
      upstreamPort: upstream.port,
      issuer,
      sessionKey,
      script,
      nodeArgs,
    });
    const res = await fetch(`http://127.0.0.1:${s.port}/catalog/items?page=1`, {
      headers: { authorization: `Bearer ${token}`, "x-forwarded-for": "214.78.120.1", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0" },
    });
    await res.text();
    if (res.status !== 200) throw new Error(`the sidecar answered ${res.status}:\n${s.output()}`);
    await settle();
    sidecar.push(figures(s.pid));
    await s.stop();
  }
  bus.redis.disconnect();
  process.stdout.write(line("bare node (same flags)", bare) + line(GUARDED_RUN ? "sidecar, all protections" : "sidecar", sidecar));
}

runBench(main, 5 * 60_000);
