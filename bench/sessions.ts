/**
 * npm run bench:sessions — the sessions API with 10,000 sessions (50 sidecars' pods in 10 namespaces), through the
 * real aggregation layer of the test control plane: the chart installed, the sessions API in its own process
 * (bench/sessions/server-child.ts: the operator's code, environment and ServiceAccount), the chart's Service routed
 * to it through the harness's egress proxy. Measures:
 *   - `kubectl get vigilsessions -A` (kubectl's default pages of 500): the server's time per request, p99
 *     (target ≤ 100 ms), and kubectl's wall time for the whole listing;
 *   - the first page (limit=500, as a Table) end to end through kube-apiserver, p99 (target ≤ 300 ms);
 *   - a new session → its ADDED event on a watch through kube-apiserver, p99 (target ≤ 1 s), and → a GET of it
 *     through kube-apiserver answering 200, p99 (target ≤ 1 s);
 *   - the sessions API process's RSS growth for the 10,000 sessions (target ≤ 64 MB; heap growth alongside).
 * Prints each figure with its target and yes/no. BENCH_SESSIONS, BENCH_SAMPLES and BENCH_LISTINGS override sizes.
 *
 * Where sessions come from (BENCH_SESSIONS_SOURCE): `stream` (default) — 50 sidecars' audit reporters
 * (bench/sessions/reporters.ts: the sidecar's reporting code, sealed batches on the capped stream) and the operator's
 * audit ingest reading them into the index, so a new session's latency counts from the moment its sidecar reported
 * it (flush interval included); `direct` — the index fed in-process, as before the audit stream existed.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startCluster, type Cluster } from "../test/cluster/harness.ts";
import { routeService } from "../test/cluster/service-route.ts";
import { chartDir, helmOk, objectsOf } from "../test/integration/chart/helm.ts";
import { localOperatorConfig } from "../test/integration/e2e/local-operator.ts";
import { kubectl, kubectlJson } from "../test/integration/support/kubectl.ts";
import { runBench, stopChild, track } from "./support/children.ts";
import { machineLine, num, table, verdict, verdictLines } from "./support/report.ts";
import { percentile } from "./support/stats.ts";
import type { FromChild, ToChild } from "./sessions/server-child.ts";
import type { WorkloadShape } from "./sessions/workload.ts";
import { Redis } from "ioredis";
import { loadKeyRingFromDir } from "../lib/key-ring-dir.ts";
import { startReporters, type Reporters } from "./sessions/reporters.ts";

const SHAPE: WorkloadShape = { count: Number(process.env["BENCH_SESSIONS"] ?? 10_000), namespaces: 10, pods: 50 };
const SAMPLES = Number(process.env["BENCH_SAMPLES"] ?? 100);
const LISTINGS = Number(process.env["BENCH_LISTINGS"] ?? 10);
const SOURCE = process.env["BENCH_SESSIONS_SOURCE"] === "direct" ? "direct" : "stream";
const GV = "/apis/sessions.vigil.dev/v1alpha1";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
const started = Date.now();

function log(message: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}

let cluster: Cluster | undefined;
let child: ChildProcess | undefined;

interface ApiClient {
  get(path: string, accept?: string): Promise<{ status: number; body: string }>;
  stream(path: string, onLine: (line: string) => void): () => void;
}

function apiClient(url: string, dir: string): ApiClient {
  const tls = { ca: readFileSync(join(dir, "ca.crt")), cert: readFileSync(join(dir, "admin.crt")), key: readFileSync(join(dir, "admin.key")) };
  const agent = new Agent({ keepAlive: true, maxSockets: 4, ...tls });
  const { hostname, port } = new URL(url);
  return {
    get: (path, accept = "application/json") =>
      new Promise((resolve, reject) => {
        const req = request({ hostname, port, path, agent, headers: { accept } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
          });
        });
        req.on("error", reject);
        req.end();
      }),
    stream: (path, onLine) => {
      const req = request({ hostname, port, path, ...tls, headers: { accept: "application/json" } }, (res) => {
        let buffered = "";
        res.on("data", (c: Buffer) => {
          buffered += c.toString();
          let nl = buffered.indexOf("\n");
          while (nl >= 0) {
            onLine(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
            nl = buffered.indexOf("\n");
          }
        });
      });
      req.on("error", () => undefined);
      req.end();
      return () => {
        req.destroy();
      };
    },
  };
}

/** Milliseconds from `t0` until a GET of `path` answers 200 (polled every 10 ms; Infinity after 5 s). */
async function firstOk(api: ApiClient, path: string, t0: number): Promise<number> {
  while (performance.now() - t0 < 5000) {
    const r = await api.get(path);
    if (r.status === 200) return performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Number.POSITIVE_INFINITY;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function nextMessage<T extends FromChild["type"]>(proc: ChildProcess, type: T): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve) => {
    const on = (m: FromChild): void => {
      if (m.type !== type) return;
      proc.off("message", on);
      resolve(m as Extract<FromChild, { type: T }>);
    };
    proc.on("message", on);
  });
}

async function main(): Promise<void> {
  console.log(
    `bench:sessions — ${num(SHAPE.count)} sessions, ${SHAPE.pods} pods in ${SHAPE.namespaces} namespaces, fed ${SOURCE === "stream" ? "from the sidecars' audit stream" : "directly"}\n${machineLine()}`,
  );
  cluster = await startCluster();
  const env = cluster.env;
  log(`control plane ready in ${(cluster.startupMs / 1000).toFixed(1)} s`);
  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-sessions-"));
  const release = "vigil-bench";
  const system = "vigil-bench-system";
  await writeFile(join(dir, "values.json"), JSON.stringify({ redis: { mode: "external", external: { url: env.redisUrl } } }));
  await helmOk(env, ["install", release, chartDir, "-n", system, "--create-namespace", "-f", join(dir, "values.json"), "--timeout", "60s"], 90_000);
  const manifest = objectsOf(await helmOk(env, ["get", "manifest", release, "-n", system]));
  const deployment = manifest.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-operator"));
  const service = manifest.find((o) => o.kind === "Service" && o.metadata.name.endsWith("-webhook"));
  if (deployment === undefined || service === undefined) throw new Error("the chart rendered no operator Deployment or webhook Service");
  const operator = await localOperatorConfig(env, system, deployment.metadata.name, dir);
  log("chart installed; starting the sessions API process");

  // Idle after an hour: the seeded sessions (last active up to 10 min ago) stay Active while the figures are taken,
  // instead of thousands turning Idle at once mid-measurement (in a cluster that happens as a steady trickle).
  const childEnv = { ...process.env, ...operator.env, VIGIL_SESSIONS_IDLE_SECONDS: "3600" };
  const proc = fork(join(import.meta.dirname, "sessions/server-child.ts"), [], {
    env: childEnv,
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  child = proc;
  track("sessions-api", proc.pid);
  const serverTimes: { verb: string; seconds: number }[] = [];
  const byVerb = new Map<string, number>();
  proc.on("message", (m: FromChild) => {
    if (m.type !== "request") return;
    serverTimes.push({ verb: m.verb, seconds: m.seconds });
    byVerb.set(`${m.verb} ${m.code}`, (byVerb.get(`${m.verb} ${m.code}`) ?? 0) + 1);
  });
  const verbs = (): string => [...byVerb.entries()].map(([k, v]) => `${k}: ${v}`).join(", ");
  const { port } = await nextMessage(proc, "ready");
  await routeService(env, { namespace: system, name: service.metadata.name, port: 8443 }, port);
  await until(
    "the APIService to be Available",
    async () => {
      const s = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>(env, ["get", "apiservice", "v1alpha1.sessions.vigil.dev"]);
      return s.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") === true;
    },
    60_000,
  );
  log("APIService available; seeding");

  let reporters: Reporters | undefined;
  let redis: Redis | undefined;
  const seeding = nextMessage(proc, "seeded");
  if (SOURCE === "stream") {
    redis = new Redis(env.redisUrl);
    const ring = await loadKeyRingFromDir(operator.env["VIGIL_SESSION_KEY_RING_DIR"] ?? "");
    reporters = startReporters(redis, `${operator.env["VIGIL_BUS_PREFIX"] ?? "vigil:"}audit`, ring, SHAPE);
    const t0 = performance.now();
    let events = 0;
    const now = Date.now();
    for (let i = 0; i < SHAPE.count; i++) events += reporters.report(i, now).events;
    await reporters.flush();
    log(`${SHAPE.pods} sidecars' reporters wrote ${num(events)} audit events in ${((performance.now() - t0) / 1000).toFixed(2)} s; ingesting`);
    proc.send({ type: "seed", shape: SHAPE, source: "stream", expectEvents: events, pods: reporters.pods() } satisfies ToChild);
  } else {
    proc.send({ type: "seed", shape: SHAPE, source: "direct" } satisfies ToChild);
  }
  const seeded = await seeding;
  log(`seeded ${num(seeded.objects)} objects in ${seeded.seconds.toFixed(2)} s`);

  // kubectl get vigilsessions -A (pages of 500).
  const wall: number[] = [];
  serverTimes.length = 0;
  for (let i = 0; i < LISTINGS; i++) {
    const t0 = performance.now();
    const out = await kubectl(env, ["get", "vigilsessions", "-A", "--no-headers"], { timeoutMs: 120_000 });
    wall.push(performance.now() - t0);
    if (out.code !== 0) throw new Error(out.stderr);
    const rows = out.stdout.trim().split("\n").length;
    if (rows !== seeded.objects) throw new Error(`kubectl listed ${rows} rows, expected ${seeded.objects}`);
  }
  const listServer = serverTimes.filter((t) => t.verb === "list").map((t) => t.seconds * 1000);
  log(`kubectl get -A: ${LISTINGS} listings, ${listServer.length} list requests timed by the server; requests so far: ${verbs()}`);

  // First page end to end through kube-apiserver.
  const api = apiClient(env.apiServerUrl, env.dir);
  const firstPage: number[] = [];
  const listedBefore = serverTimes.length;
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const r = await api.get(`${GV}/vigilsessions?limit=500`, TABLE);
    firstPage.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`first page: ${r.status} ${r.body.slice(0, 200)}`);
  }
  const firstPageServer = serverTimes
    .slice(listedBefore)
    .filter((t) => t.verb === "list")
    .map((t) => t.seconds * 1000);
  log(`first page timed; requests so far: ${verbs()}`);

  // A new session → watch event, and → GET.
  const list = JSON.parse((await api.get(`${GV}/vigilsessions?limit=1`)).body) as { metadata: { resourceVersion: string } };
  const waiting = new Map<string, (t: number) => void>();
  const stop = api.stream(`${GV}/vigilsessions?watch=1&resourceVersion=${list.metadata.resourceVersion}`, (line) => {
    const at = performance.now();
    const e = JSON.parse(line) as { type: string; object: { metadata: { name?: string } } };
    if (e.type === "ADDED" && e.object.metadata.name !== undefined) waiting.get(e.object.metadata.name)?.(at);
  });
  await new Promise((r) => setTimeout(r, 500)); // the watch is established
  const watchLatency: number[] = [];
  const getLatency: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    let sessionId: string;
    let namespace: string;
    if (reporters !== undefined) {
      // The sidecar reports the session (its first request); it is visible once the operator ingested it.
      ({ sessionId, namespace } = reporters.report(SHAPE.count + i, Date.now()));
    } else {
      const added = nextMessage(proc, "added");
      proc.send({ type: "add", i: SHAPE.count + i, shape: SHAPE } satisfies ToChild);
      ({ sessionId, namespace } = await added);
    }
    const event = new Promise<number>((resolve) => waiting.set(sessionId, resolve));
    getLatency.push(await firstOk(api, `${GV}/namespaces/${namespace}/vigilsessions/${sessionId}`, t0));
    const timeout = new Promise<number>((resolve) =>
      setTimeout(() => {
        resolve(Number.POSITIVE_INFINITY);
      }, 5000),
    );
    watchLatency.push((await Promise.race([event, timeout])) - t0);
    waiting.delete(sessionId);
  }
  stop();
  await reporters?.stop();
  redis?.disconnect();
  log("new-session latencies timed");

  const growth = seeded.rssAfterMb - seeded.rssBeforeMb;
  const p = (v: number[], q: number): string => num(percentile(v, q), 1);
  console.log(
    `\n${table(
      ["figure", "p50", "p99", "max", "samples"],
      [
        ["kubectl get -A: server time per request (ms)", p(listServer, 50), p(listServer, 99), p(listServer, 100), String(listServer.length)],
        ["kubectl get -A: kubectl wall time (ms)", p(wall, 50), p(wall, 99), p(wall, 100), String(wall.length)],
        ["first page (500, Table) end to end (ms)", p(firstPage, 50), p(firstPage, 99), p(firstPage, 100), String(firstPage.length)],
        [
          "… of which the sessions API's own time (ms)",
          p(firstPageServer, 50),
          p(firstPageServer, 99),
          p(firstPageServer, 100),
          String(firstPageServer.length),
        ],
        ["new session → watch ADDED (ms)", p(watchLatency, 50), p(watchLatency, 99), p(watchLatency, 100), String(watchLatency.length)],
        ["new session → GET 200 (ms)", p(getLatency, 50), p(getLatency, 99), p(getLatency, 100), String(getLatency.length)],
      ],
    )}`,
  );
  console.log(
    `\nsessions API process: RSS ${num(seeded.coldRssMb, 1)} MB at start, ${num(seeded.rssBeforeMb, 1)} MB before seeding (after a warm-up), ${num(seeded.rssAfterMb, 1)} MB after; heap ${num(seeded.heapBeforeMb, 1)} → ${num(seeded.heapAfterMb, 1)} MB`,
  );
  console.log(
    `\n${verdictLines([
      verdict("kubectl get vigilsessions -A: server time p99", percentile(listServer, 99), "≤", 100, " ms", 1),
      verdict("first page (--chunk-size 500) end to end p99", percentile(firstPage, 99), "≤", 300, " ms", 1),
      verdict("new session in a watch p99", percentile(watchLatency, 99), "≤", 1000, " ms", 1),
      verdict("new session in a GET/list p99", percentile(getLatency, 99), "≤", 1000, " ms", 1),
      verdict(`RSS growth for ${num(SHAPE.count)} sessions`, growth, "≤", 64, " MB", 1),
    ])}`,
  );
}

async function cleanUp(): Promise<void> {
  if (child?.pid !== undefined) await stopChild(child.pid);
  if (cluster !== undefined) {
    await kubectl(cluster.env, ["delete", "apiservice", "v1alpha1.sessions.vigil.dev", "--ignore-not-found"]).catch(() => undefined);
    await cluster.stop();
  }
}

runBench(main, 15 * 60_000, cleanUp);
