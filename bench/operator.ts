/**
 * npm run bench:operator — vigil-operator at scale against the real control plane and a real Redis.
 *
 * Starts the test control plane (test/cluster/harness.ts), the operator as a real process (`node operator/main.ts`),
 * loads 1,000 AccessPolicies and 10,000 SessionTerminations, then measures:
 *   - resource change → bus publish latency (p50/p99): the bench tails the bus stream with XREAD and compares the
 *     arrival of each change with the moment its create/patch call returned (target p99 ≤ 100 ms);
 *   - operator RSS (VmRSS of the operator process, sampled every second; target ≤ 256 MB);
 *   - time to re-assert the whole bus after FLUSHALL (target: within one resync period), and the re-assertion's own
 *     duration as logged by the operator.
 * Prints progress, then each figure with its target and `target …: yes/no`. Bounded to well under 15 minutes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { startCluster, type Cluster } from "../test/cluster/harness.ts";
import { freePort } from "../test/cluster/ports.ts";
import { kubectlOk } from "../test/integration/support/kubectl.ts";

const POLICIES = Number(process.env["BENCH_POLICIES"] ?? 1000);
const TERMINATIONS = Number(process.env["BENCH_TERMINATIONS"] ?? 10_000);
const SAMPLES = Number(process.env["BENCH_SAMPLES"] ?? 200);
const CONCURRENCY = 16;
const RESYNC_SECONDS = 60;
/**
 * V8 / glibc settings of the operator process (NODE_OPTIONS, MALLOC_ARENA_MAX), Node's defaults unless set, to try
 * container settings: e.g. BENCH_OPERATOR_NODE_OPTIONS="--max-old-space-size=192" (in one run that capped the heap
 * but made GC dominate: latency got much worse and RSS still exceeded 256 MB).
 */
const OPERATOR_NODE_OPTIONS = process.env["BENCH_OPERATOR_NODE_OPTIONS"] ?? "";
const OPERATOR_MALLOC_ARENA_MAX = process.env["BENCH_OPERATOR_MALLOC_ARENA_MAX"];
const NS = "bench";
const PREFIX = "bench:";
const repo = join(import.meta.dirname, "..");
const started = Date.now();

function log(message: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>, label: string): Promise<void> {
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.floor(items.length / 10));
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
      done++;
      if (done % step === 0) log(`${label}: ${done}/${items.length}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Date.now() - t0;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** Tails P events and records when each change (by key) arrived. */
class StreamWatch {
  readonly arrivals = new Map<string, number>();
  readonly #redis: Redis;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(url: string) {
    this.#redis = new Redis(url, { maxRetriesPerRequest: null });
  }

  async start(): Promise<void> {
    const last = (await this.#redis.xrevrange(`${PREFIX}events`, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
    this.#loop = this.#run(last);
  }

  async #run(from: string): Promise<void> {
    let id = from;
    while (!this.#stopped) {
      const reply = await this.#redis.xread("COUNT", 1000, "BLOCK", 500, "STREAMS", `${PREFIX}events`, id);
      const now = performance.now();
      const entries = (reply ?? []).flatMap(([, list]) => list);
      for (const [entryId, fields] of entries) {
        id = entryId;
        const key = changeKey(fields[1]);
        if (key !== undefined && !this.arrivals.has(key)) this.arrivals.set(key, now);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.#redis.disconnect();
  }
}

/** `policy/<name>/<generation>`, `termination/<id>` or `delete/<name>` of one stream message. */
function changeKey(raw: string | undefined): string | undefined {
  try {
    const e = JSON.parse(raw ?? "") as { type: string; policy?: { name: string; generation: number }; revocation?: { id: string }; name?: string };
    if (e.type === "policy.upsert") return `policy/${e.policy?.name ?? ""}/${e.policy?.generation ?? 0}`;
    if (e.type === "termination") return `termination/${e.revocation?.id ?? ""}`;
    return `delete/${e.name ?? ""}`;
  } catch {
    return undefined;
  }
}

function policyBody(name: string, extraRule = false): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [{ name: "staff", action: "Allow", identities: [{ group: "staff" }], requests: [{ methods: ["GET"], paths: ["/docs/*"] }] }];
  if (extraRule) rules.push({ name: "ops", action: "Allow", identities: [{ group: "ops" }] });
  return { apiVersion: "vigil.dev/v1alpha1", kind: "AccessPolicy", metadata: { name, namespace: NS }, spec: { selector: { matchLabels: { app: name } }, rules } };
}

function terminationBody(name: string): Record<string, unknown> {
  return { apiVersion: "vigil.dev/v1alpha1", kind: "SessionTermination", metadata: { name, namespace: NS }, spec: { target: { email: `${name}@example.com` }, reason: "bench" } };
}

async function main(): Promise<void> {
  log(`starting the control plane (${POLICIES} policies, ${TERMINATIONS} terminations, ${SAMPLES} latency samples per kind)`);
  const cluster: Cluster = await startCluster();
  let operator: ChildProcess | undefined;
  const stream = new StreamWatch(cluster.env.redisUrl);
  const redis = new Redis(cluster.env.redisUrl);
  try {
    const env = cluster.env;
    await kubectlOk(env, ["apply", "--server-side", "-f", join(repo, "crds")]);
    await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    const api = kc.makeApiClient(CustomObjectsApi);
    const policies = { group: "vigil.dev", version: "v1alpha1", plural: "accesspolicies", namespace: NS };
    const terminations = { group: "vigil.dev", version: "v1alpha1", plural: "sessionterminations", namespace: NS };

    const adminPort = await freePort();
    operator = spawn(join(repo, "node_modules/.bin/node"), [join(repo, "operator/main.ts")], {
      cwd: repo,
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        PATH: process.env["PATH"] ?? "",
        KUBECONFIG: env.kubeconfig,
        VIGIL_REDIS_URL: env.redisUrl,
        VIGIL_BUS_PREFIX: PREFIX,
        VIGIL_WATCH_NAMESPACE: NS,
        VIGIL_LEASE_NAMESPACE: NS,
        VIGIL_IDENTITY: "bench-operator",
        VIGIL_ADMIN_PORT: String(adminPort),
        VIGIL_RESYNC_SECONDS: String(RESYNC_SECONDS),
        LOG_LEVEL: "info",
        NODE_OPTIONS: OPERATOR_NODE_OPTIONS,
        ...(OPERATOR_MALLOC_ARENA_MAX === undefined ? {} : { MALLOC_ARENA_MAX: OPERATOR_MALLOC_ARENA_MAX }),
      },
    });
    log(`operator process: node operator/main.ts, NODE_OPTIONS="${OPERATOR_NODE_OPTIONS}", MALLOC_ARENA_MAX=${OPERATOR_MALLOC_ARENA_MAX ?? "(glibc default)"}`);
    const pid = operator.pid ?? -1;
    const reasserts: { ms: number; at: number }[] = [];
    let leading = false;
    if (operator.stdout !== null) {
      createInterface({ input: operator.stdout }).on("line", (line) => {
        if (line.includes("leading: starting controllers")) leading = true;
        if (line.includes("bus re-asserted from the resources: repaired")) {
          const ms = (JSON.parse(line) as { ms?: number }).ms;
          if (typeof ms === "number") reasserts.push({ ms, at: Date.now() });
        }
      });
    }
    let maxRss = 0;
    const rssTimer = setInterval(() => {
      maxRss = Math.max(maxRss, rssMb(pid));
    }, 1000);
    await until("the operator to lead", () => Promise.resolve(leading), 60_000, 100);
    log(`operator pid ${pid} leading; RSS ${rssMb(pid).toFixed(0)} MB`);

    await pool(Array.from({ length: POLICIES }, (_, i) => `p-${i}`), CONCURRENCY, async (name) => {
      await api.createNamespacedCustomObject({ ...policies, body: policyBody(name) });
    }, "policies created");
    await pool(Array.from({ length: TERMINATIONS }, (_, i) => `t-${i}`), CONCURRENCY, async (name) => {
      await api.createNamespacedCustomObject({ ...terminations, body: terminationBody(name) });
    }, "terminations created");
    log("waiting for the operator to publish everything");
    await until("every policy and revocation on the bus", async () => {
      const [p, r] = await Promise.all([redis.hlen(`${PREFIX}policies`), redis.hlen(`${PREFIX}revocations`)]);
      return p >= POLICIES && r >= TERMINATIONS;
    }, 600_000, 1000);
    await until("the operator's work queues drained", async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const depth = metrics.split("\n").filter((l) => l.startsWith("vigil_operator_workqueue_depth{")).reduce((sum, l) => sum + Number(l.split(" ")[1]), 0);
      return depth === 0;
    }, 600_000, 1000);
    log(`loaded: ${POLICIES} policies and ${TERMINATIONS} revocations on the bus; RSS ${rssMb(pid).toFixed(0)} MB`);

    log(`latency: ${SAMPLES} policy creates, ${SAMPLES} policy spec updates, ${SAMPLES} termination creates (one at a time)`);
    await stream.start();
    const returned = new Map<string, number>();
    for (let i = 0; i < SAMPLES; i++) {
      const name = `lat-${i}`;
      await api.createNamespacedCustomObject({ ...policies, body: policyBody(name) });
      returned.set(`policy/${name}/1`, performance.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    for (let i = 0; i < SAMPLES; i++) {
      const name = `p-${i}`;
      await api.patchNamespacedCustomObject({ ...policies, name, body: [{ op: "add", path: "/spec/rules/-", value: { name: "ops", action: "Allow", identities: [{ group: "ops" }] } }] });
      returned.set(`policy/${name}/2`, performance.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    for (let i = 0; i < SAMPLES; i++) {
      const name = `lat-t-${i}`;
      const created = (await api.createNamespacedCustomObject({ ...terminations, body: terminationBody(name) })) as { metadata: { uid: string } };
      returned.set(`termination/${NS}/${name}/${created.metadata.uid}`, performance.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    await until("every sampled change on the stream", () => Promise.resolve([...returned.keys()].every((k) => stream.arrivals.has(k))), 60_000, 100);
    await stream.stop();
    const latencies = { policy: [] as number[], termination: [] as number[] };
    for (const [key, t] of returned) {
      const arrived = stream.arrivals.get(key) ?? Number.NaN;
      (key.startsWith("policy/") ? latencies.policy : latencies.termination).push(Math.max(0, arrived - t));
    }
    const all = [...latencies.policy, ...latencies.termination].sort((a, b) => a - b);
    latencies.policy.sort((a, b) => a - b);
    latencies.termination.sort((a, b) => a - b);

    log("FLUSHALL; waiting for the periodic re-assertion to repair the bus");
    const reassertsBefore = reasserts.length;
    await redis.flushall();
    const flushedAt = Date.now();
    await until("the bus repaired", async () => {
      const [p, r] = await Promise.all([redis.hlen(`${PREFIX}policies`), redis.hlen(`${PREFIX}revocations`)]);
      return p >= POLICIES + SAMPLES && r >= TERMINATIONS + SAMPLES;
    }, (RESYNC_SECONDS + 120) * 1000, 100);
    const repairMs = Date.now() - flushedAt;
    await until("the re-assertion log line", () => Promise.resolve(reasserts.length > reassertsBefore), 30_000, 100);
    const reassertMs = reasserts[reasserts.length - 1]?.ms ?? Number.NaN;
    maxRss = Math.max(maxRss, rssMb(pid));
    clearInterval(rssTimer);

    const p99 = percentile(all, 99);
    console.log("");
    console.log("vigil-operator benchmark");
    console.log(`  objects: ${POLICIES + SAMPLES} AccessPolicies, ${TERMINATIONS + SAMPLES} SessionTerminations in the real API server`);
    console.log(`  change → bus publish latency, all (${all.length}): p50 ${percentile(all, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (target p99 ≤ 100 ms) — target met: ${p99 <= 100 ? "yes" : "no"}`);
    console.log(`    policy create/update (${latencies.policy.length}): p50 ${percentile(latencies.policy, 50).toFixed(1)} ms, p99 ${percentile(latencies.policy, 99).toFixed(1)} ms`);
    console.log(`    termination create (${latencies.termination.length}): p50 ${percentile(latencies.termination, 50).toFixed(1)} ms, p99 ${percentile(latencies.termination, 99).toFixed(1)} ms`);
    console.log(`  operator RSS: max ${maxRss.toFixed(0)} MB (target ≤ 256 MB) — target met: ${maxRss <= 256 ? "yes" : "no"}  [NODE_OPTIONS="${OPERATOR_NODE_OPTIONS}", MALLOC_ARENA_MAX=${OPERATOR_MALLOC_ARENA_MAX ?? "(glibc default)"}]`);
    console.log(`  FLUSHALL → whole bus re-asserted: ${(repairMs / 1000).toFixed(1)} s incl. waiting for the resync tick (target ≤ one resync period, ${RESYNC_SECONDS} s) — target met: ${repairMs <= RESYNC_SECONDS * 1000 ? "yes" : "no"}`);
    console.log(`    the re-assertion itself (operator log): ${(reassertMs / 1000).toFixed(2)} s for ${POLICIES + SAMPLES} policies + ${TERMINATIONS + SAMPLES} revocations`);
    console.log(`  total bench time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    if (operator?.pid !== undefined && operator.exitCode === null) {
      const exited = new Promise((r) => operator?.once("exit", r));
      process.kill(operator.pid, "SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    redis.disconnect();
    await cluster.stop();
  }
}

await main();
