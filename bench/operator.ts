/**
 * `npm run bench:operator` — vigil-operator at scale against the real control plane and a real Redis (issue 11).
 *
 * Starts the test control plane (test/cluster/harness.ts) and the operator as the image runs it (the built
 * `dist/operator/main.js` with the Node flags of the chart's Deployment, in a memory cgroup with the chart's memory
 * limit), creates 5,000 Pods, 1,000 AccessPolicies and 10,000 SessionTerminations in the watched namespace, waits
 * until everything is on the signed bus, then measures:
 *   - change → bus publish latency (p50/p99) of 200 policy creates, 200 policy updates and 200 termination creates,
 *     one at a time, while the informers' periodic resyncs run (resync period 10 s: every cached key is handed to
 *     the controllers again several times during the measurement); the bench tails the namespace's event stream and
 *     compares each change's arrival with the moment its create/patch call returned;
 *   - the operator's RSS (VmRSS sampled every 500 ms), what its memory cgroup charged, limit hits and OOM kills;
 *   - FLUSHALL → the whole bus rebuilt from the resources (the bus controller's check period, 5 s).
 * Baselines measured in the same run, printed as ratios: the API server's own write round trip (the create/patch
 * calls of the latency phase: what any controller waits for anyway), a bare Node process with the same flags (the
 * floor of any Node program's RSS), and the chart's memory limit. If the operator dies (a V8 heap limit or the
 * cgroup's OOM killer), the bench stops waiting, says when and how, and still prints every figure and verdict.
 * Prints each figure with its target and yes/no. Bounded in time; everything stopped by PID, cgroups removed.
 * BENCH_PROGRAM_ROOT=<tree> runs another checkout's built operator and chart (before/after);
 * BENCH_OPERATOR_NODE_ARGS="<flags>" runs it with these Node flags instead of the chart's (still in a cgroup with the
 * chart's limit), e.g. "" for V8's defaults; BENCH_OPERATOR_CGROUP=0 runs it without the memory cgroup.
 */
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { busKeys } from "../operator/api/bus/keys.ts";
import { startCluster, type Cluster } from "../test/cluster/harness.ts";
import { kubectlOk } from "../test/integration/support/kubectl.ts";
import { NS, podBody, policyBody, pool, terminationBody } from "./operator/objects.ts";
import { StreamWatch } from "./operator/stream.ts";
import { createMemoryCgroup, memoryCgroupsAvailable, removeAllCgroups, type MemoryCgroup } from "./support/cgroup.ts";
import { chartDeployment } from "./support/chart.ts";
import { runBench, stopAll, stopChild } from "./support/children.ts";
import { startBenchOperator, startBareNode } from "./support/operator-process.ts";
import { cpuSeconds, peakRssMb, rssMb } from "./support/proc.ts";
import { machineLine, num, table, verdict, verdictLines } from "./support/report.ts";
import { percentile } from "./support/stats.ts";

const QUICK = process.env["BENCH_QUICK"] === "1";
const POLICIES = Number(process.env["BENCH_POLICIES"] ?? (QUICK ? 100 : 1000));
const TERMINATIONS = Number(process.env["BENCH_TERMINATIONS"] ?? (QUICK ? 500 : 10_000));
const PODS = Number(process.env["BENCH_PODS"] ?? (QUICK ? 300 : 5_000));
const SAMPLES = Number(process.env["BENCH_SAMPLES"] ?? (QUICK ? 30 : 200));
/** Node flags instead of the chart's (space separated; empty: none), to tell the heap limit's effect apart. */
const NODE_ARGS_OVERRIDE = process.env["BENCH_OPERATOR_NODE_ARGS"];
/** BENCH_OPERATOR_CGROUP=0: no memory cgroup (the operator unconstrained, to measure what it would need). */
const USE_CGROUP = process.env["BENCH_OPERATOR_CGROUP"] !== "0";
const CONCURRENCY = 16;
const RESYNC_SECONDS = 10;
const BUDGET_MS = 25 * 60_000;
const PREFIX = "bench:";
const repo = join(import.meta.dirname, "..");
const started = Date.now();
let cluster: Cluster | undefined;

function log(message: string): void {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Date.now() - t0;
}

async function metric(adminPort: number, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) if (line.startsWith(name)) out.set(line.slice(0, line.lastIndexOf(" ")), Number(line.slice(line.lastIndexOf(" ") + 1)));
  return out;
}

async function main(): Promise<void> {
  process.stdout.write(`vigil-operator benchmark\n${machineLine()}\n`);
  const chart = await chartDeployment();
  log(`starting the control plane (${PODS} pods, ${POLICIES} + ${SAMPLES} policies, ${TERMINATIONS} + ${SAMPLES} terminations)`);
  cluster = await startCluster();
  const env = cluster.env;
  const redis = new Redis(env.redisUrl);
  const stream = new StreamWatch(env.redisUrl, PREFIX, NS);
  try {
    await kubectlOk(env, ["apply", "--server-side", "-f", join(repo, "crds")]);
    await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await until("the namespace's default ServiceAccount", async () => (await core.listNamespacedServiceAccount({ namespace: NS })).items.length > 0, 60_000);
    const api = kc.makeApiClient(CustomObjectsApi);
    const policies = { group: "vigil.dev", version: "v1alpha1", plural: "accesspolicies", namespace: NS };
    const terminations = { group: "vigil.dev", version: "v1alpha1", plural: "sessionterminations", namespace: NS };

    const limit = chart.operator.memoryLimitBytes;
    const nodeArgs = NODE_ARGS_OVERRIDE === undefined ? chart.operator.nodeArgs : NODE_ARGS_OVERRIDE.split(" ").filter((a) => a !== "");
    const cgroup: MemoryCgroup | undefined =
      USE_CGROUP && memoryCgroupsAvailable() && Number.isFinite(limit) ? createMemoryCgroup("operator", limit) : undefined;
    const operator = await startBenchOperator({
      kubeconfig: env.kubeconfig,
      redisUrl: env.redisUrl,
      prefix: PREFIX,
      namespace: NS,
      nodeArgs,
      env: { VIGIL_RESYNC_SECONDS: String(RESYNC_SECONDS) },
      ...(cgroup === undefined ? {} : { cgroupProcs: cgroup.procsFile }),
    });
    const pid = operator.pid;
    let exitedDuring: string | undefined;
    let phase = "start";
    const alive = (): void => {
      const how = operator.proc.exitCode ?? operator.proc.signalCode;
      if (how === null) return;
      exitedDuring ??= `${phase} (exit ${String(how)})`;
      throw new OperatorExited(
        `the operator exited during ${phase} (${String(how)}): ${operator.stderr().slice(-2_000)}\nits last log lines:\n${operator.stdoutTail().slice(-6_000)}`,
      );
    };
    log(
      `operator: node ${nodeArgs.join(" ")} dist/operator/main.js (${NODE_ARGS_OVERRIDE === undefined ? "the chart's command" : "BENCH_OPERATOR_NODE_ARGS, not the chart's flags"}), memory limit ${num(limit / 1048576)} MiB${cgroup === undefined ? " (NOT enforced: no memory cgroup)" : " (its memory cgroup)"}`,
    );
    let maxRss = 0;
    const rssTimer = setInterval(() => {
      if (operator.proc.exitCode === null && operator.proc.signalCode === null) maxRss = Math.max(maxRss, rssMb(pid));
    }, 500);
    await operator.nextLine((l) => l.includes("leading: starting controllers"), 60_000);
    log(`operator pid ${pid} leading; RSS ${num(rssMb(pid))} MB`);

    const bare = await startBareNode(nodeArgs);
    const bareRss = rssMb(bare.pid);
    await stopChild(bare.pid);
    log(`baseline: bare Node with the same flags, idle RSS ${num(bareRss, 1)} MB`);

    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    let loadCpu = Number.NaN;
    let loadedRss = Number.NaN;
    let phaseSeconds = Number.NaN;
    let repairMs = Number.NaN;
    const depths: number[] = [];
    const lat = { policy: [] as number[], termination: [] as number[], api: [] as number[] };
    const sampling = { on: true };
    try {
      phase = "loading";
      await pool(
        Array.from({ length: PODS }, (_, i) => i),
        CONCURRENCY,
        async (i) => {
          alive();
          await core.createNamespacedPod({ namespace: NS, body: podBody(i) });
        },
        (n) => {
          log(`pods created: ${n}/${PODS}; operator RSS ${num(rssMb(pid))} MB`);
        },
      );
      await pool(
        Array.from({ length: POLICIES }, (_, i) => `p-${i}`),
        CONCURRENCY,
        async (name) => {
          alive();
          await api.createNamespacedCustomObject({ ...policies, body: policyBody(name) });
        },
        (n) => {
          log(`policies created: ${n}/${POLICIES}; operator RSS ${num(rssMb(pid))} MB`);
        },
      );
      await pool(
        Array.from({ length: TERMINATIONS }, (_, i) => `t-${i}`),
        CONCURRENCY,
        async (name) => {
          alive();
          await api.createNamespacedCustomObject({ ...terminations, body: terminationBody(name) });
        },
        (n) => {
          log(`terminations created: ${n}/${TERMINATIONS}; operator RSS ${num(rssMb(pid))} MB`);
        },
      );
      const entries = busKeys(PREFIX).namespace(NS).entries;
      log("waiting for the operator to publish everything and drain its queues");
      await until("every policy and revocation on the bus", async () => (alive(), (await redis.hlen(entries)) >= POLICIES + TERMINATIONS), 900_000, 1000);
      await until(
        "the operator's work queues drained",
        async () => {
          alive();
          // The admin port stops answering when the operator dies: report its exit, not the failed fetch.
          const depths = await metric(operator.adminPort, "vigil_operator_workqueue_depth{").catch(async (err: unknown) => {
            // A graceful stop (a lost Lease) closes the admin server first, then waits for running reconciles.
            await until("the operator to exit", () => Promise.resolve(operator.proc.exitCode !== null || operator.proc.signalCode !== null), 60_000).catch(
              () => undefined,
            );
            alive();
            throw err;
          });
          return [...depths.values()].every((d) => d === 0);
        },
        900_000,
        1000,
      );
      loadCpu = cpuSeconds(pid) - cpu0;
      loadedRss = rssMb(pid);
      log(
        `loaded in ${num((Date.now() - t0) / 1000)} s (operator CPU ${num(loadCpu, 1)} s): ${PODS} pods, ${POLICIES} policies and ${TERMINATIONS} revocations; RSS ${num(rssMb(pid))} MB`,
      );

      log(`latency: ${SAMPLES} policy creates, ${SAMPLES} policy updates, ${SAMPLES} termination creates, one at a time, resyncs every ${RESYNC_SECONDS} s`);
      phase = "the latency phase";
      await stream.start();
      const depthSampler = (async () => {
        while (sampling.on) {
          const depth = await metric(operator.adminPort, "vigil_operator_workqueue_depth{").catch(() => new Map<string, number>());
          depths.push([...depth.values()].reduce((a, b) => a + b, 0));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const phaseStart = Date.now();
      const returned = new Map<string, number>();
      for (let i = 0; i < SAMPLES; i++) {
        const name = `lat-${i}`;
        alive();
        const sent = performance.now();
        await api.createNamespacedCustomObject({ ...policies, body: policyBody(name) });
        returned.set(`policy/${name}/1`, performance.now());
        lat.api.push(performance.now() - sent);
        await new Promise((r) => setTimeout(r, 10));
      }
      for (let i = 0; i < SAMPLES; i++) {
        const name = `p-${i}`;
        alive();
        const sent = performance.now();
        await api.patchNamespacedCustomObject({
          ...policies,
          name,
          body: [{ op: "add", path: "/spec/rules/-", value: { name: "ops", action: "Allow", identities: [{ group: "ops" }] } }],
        });
        returned.set(`policy/${name}/2`, performance.now());
        lat.api.push(performance.now() - sent);
        await new Promise((r) => setTimeout(r, 10));
      }
      for (let i = 0; i < SAMPLES; i++) {
        const name = `lat-t-${i}`;
        alive();
        const sent = performance.now();
        const created = (await api.createNamespacedCustomObject({ ...terminations, body: terminationBody(name) })) as { metadata: { uid: string } };
        returned.set(`termination/${NS}/${name}/${created.metadata.uid}`, performance.now());
        lat.api.push(performance.now() - sent);
        await new Promise((r) => setTimeout(r, 10));
      }
      await until(
        "every sampled change on the stream",
        () => {
          alive();
          return Promise.resolve([...returned.keys()].every((k) => stream.arrivals.has(k)));
        },
        120_000,
        100,
      ).catch((err: unknown) => {
        const missing = [...returned.keys()].filter((k) => !stream.arrivals.has(k));
        throw new Error(
          `${String(err)}: ${missing.length} missing (e.g. ${missing.slice(0, 3).join(", ")}); ${stream.arrivals.size} arrivals (e.g. ${[...stream.arrivals.keys()].slice(0, 3).join(", ")})`,
        );
      });
      phaseSeconds = (Date.now() - phaseStart) / 1000;
      sampling.on = false;
      await depthSampler;
      await stream.stop();
      for (const [k, t] of returned) (k.startsWith("policy/") ? lat.policy : lat.termination).push(Math.max(0, (stream.arrivals.get(k) ?? Number.NaN) - t));

      phase = "the FLUSHALL repair";
      log("FLUSHALL; waiting for the bus controller to rebuild the bus");
      await redis.flushall();
      repairMs = await until("the bus rebuilt", async () => (alive(), (await redis.hlen(entries)) >= POLICIES + TERMINATIONS + 2 * SAMPLES), 120_000, 100);
    } catch (err) {
      if (!(err instanceof OperatorExited)) throw err;
      log(err.message);
    } finally {
      sampling.on = false;
      await stream.stop();
    }
    const running = operator.proc.exitCode === null && operator.proc.signalCode === null;
    if (running) maxRss = Math.max(maxRss, rssMb(pid));
    clearInterval(rssTimer);
    const hwm = running ? peakRssMb(pid) : Number.NaN;
    const group = cgroup?.stats();
    const all = [...lat.policy, ...lat.termination];

    const p99 = percentile(all, 99);
    const resyncsDuring = Math.floor(phaseSeconds / RESYNC_SECONDS);
    const out: string[] = ["", "=".repeat(100), "RESULTS", ""];
    out.push(`objects in the watched namespace: ${PODS} Pods, ${POLICIES + SAMPLES} AccessPolicies, ${TERMINATIONS + SAMPLES} SessionTerminations`);
    if (exitedDuring !== undefined) out.push(`THE OPERATOR EXITED during ${exitedDuring}: figures below are up to that moment`);
    const apiP50 = percentile(lat.api, 50);
    const apiP99 = percentile(lat.api, 99);
    out.push(
      table(
        ["change → bus publish (ms)", "n", "p50", "p99", "max"],
        [
          ["all", String(all.length), num(percentile(all, 50), 1), num(p99, 1), num(Math.max(...all), 1)],
          [
            "policy create / update",
            String(lat.policy.length),
            num(percentile(lat.policy, 50), 1),
            num(percentile(lat.policy, 99), 1),
            num(Math.max(...lat.policy), 1),
          ],
          [
            "termination create",
            String(lat.termination.length),
            num(percentile(lat.termination, 50), 1),
            num(percentile(lat.termination, 99), 1),
            num(Math.max(...lat.termination), 1),
          ],
          ["baseline: the API server's create/patch round trip", String(lat.api.length), num(apiP50, 1), num(apiP99, 1), num(Math.max(...lat.api), 1)],
        ],
      ),
    );
    out.push(
      `  measured over ${num(phaseSeconds, 1)} s with a resync every ${RESYNC_SECONDS} s (≈ ${resyncsDuring} resyncs, each handing every cached key back to the controllers); ` +
        `work-queue depth (all controllers) sampled every 100 ms: max ${num(Math.max(...depths))}, samples above 100: ${num(depths.filter((d) => d > 100).length)} of ${num(depths.length)}`,
    );
    out.push(`  change → publish p50 / API round trip p50: ${num(percentile(all, 50) / apiP50, 2)}×; p99 / p99: ${num(p99 / apiP99, 2)}× (same run)`);
    out.push(
      `  operator RSS: max ${num(maxRss, 1)} MB (VmRSS every 500 ms), VmHWM ${num(hwm, 1)} MB, after loading ${num(loadedRss, 1)} MB; CPU while loading ${num(loadCpu, 1)} s; ` +
        `bare Node with the same flags ${num(bareRss, 1)} MB (operator ${num(maxRss / bareRss, 1)}× bare)`,
    );
    if (group !== undefined) {
      out.push(
        `  memory cgroup with the chart's limit ${num(limit / 1048576)} MiB: peak charged ${num(group.maxUsageBytes / 1048576, 1)} MB (${num((100 * group.maxUsageBytes) / limit)} % of the limit), ` +
          `limit hit ${group.failcnt} times, OOM kills ${group.oomKills}`,
      );
    }
    out.push(`  FLUSHALL → whole bus rebuilt: ${num(repairMs / 1000, 1)} s (the bus controller checks every 5 s)`);
    const verdicts = [
      verdict("change → bus publish p99, resyncs running", p99, "≤", 50, " ms", 1),
      verdict("operator RSS (max VmRSS)", maxRss, "≤", 200, " MB", 1),
      verdict("operator peak charged / chart limit", group === undefined ? Number.NaN : group.maxUsageBytes / limit, "≤", 1, "", 2),
      verdict("OOM kills, operator, chart limit", group?.oomKills ?? Number.NaN, "≤", 0, "", 0),
      verdict("operator ran to the end (exits: heap OOM, lost lease, crash)", exitedDuring === undefined ? 0 : 1, "≤", 0, "", 0),
    ];
    // A run in which the operator died meets nothing: its figures stop where it did.
    if (exitedDuring !== undefined) for (const v of verdicts) v.met = false;
    out.push(verdictLines(verdicts));
    const failed = verdicts.filter((v) => !v.met);
    out.push(
      `Issue 11 targets met: ${verdicts.length - failed.length}/${verdicts.length}${failed.length > 0 ? `; not met: ${failed.map((v) => v.label).join("; ")}` : ""}`,
    );
    out.push(`total bench time: ${num((Date.now() - started) / 1000)} s`);
    process.stdout.write(out.join("\n") + "\n");
    cgroup?.remove();
  } finally {
    redis.disconnect();
  }
}

class OperatorExited extends Error {}

async function cleanUp(): Promise<void> {
  await stopAll();
  removeAllCgroups();
  await cluster?.stop();
}

runBench(main, BUDGET_MS, cleanUp);
