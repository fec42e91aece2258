/**
 * `npm run bench:e2e` — end-to-end enforcement latency on the real control plane (issues 5 and 11).
 *
 * Real parts only: the test harness's etcd + kube-apiserver + kube-controller-manager + redis-server, the CRDs and
 * every object applied with the real kubectl, vigil-operator and vigil-sidecar as the image runs them (built
 * `dist/`, the chart's Node flags), one upstream app and a TCP echo service. Two scale points:
 *   20 sidecars of one workload:
 *   (a) `kubectl create sessiontermination` → the last of 1,000 live CONNECT tunnels of one user (spread evenly
 *       over the 20 sidecars) reset; 20 rounds, fresh user + session each; plus the operator's own view (Completed);
 *   (b) `kubectl apply` of a policy that drops a group's rule → that group's tunnel on each of the 20 sidecars
 *       closed; 20 rounds (the rule is re-applied between rounds).
 *   100 sidecars (80 more started):
 *   (c) 10,000 live tunnels of one group (100 members × 100 tunnels, each member's spread over the 100 sidecars);
 *       `kubectl create` of the group's SessionTermination → the last of them reset; 10 rounds, a new group each;
 *   (d) as (b), on all 100 sidecars; 10 rounds.
 * Two clocks: from just before kubectl is spawned (kubectl's own start-up and API round trip included: 65–265 ms
 * here) and from kubectl returned (what Vigil controls; issue 11's targets are on this one).
 * Every process started is stopped by its PID, also on failure or Ctrl-C; the whole run is bounded in time.
 * BENCH_QUICK=1: 3 rounds at 20 sidecars, 2 at 100 with 2,000 tunnels (smoke run; figures not meaningful).
 * BENCH_E2E_SMALL_ONLY=1: the 20-sidecar scale point only; BENCH_E2E_SETTLE_MS=<ms>: a pause between opening a
 * termination round's tunnels and the termination (to tell the path from the burst of opening them; diagnostic).
 */
import { loadavg } from "node:os";
import { policyReport, summary, terminationReport } from "./e2e/report.ts";
import { groupTerminationRound, policyRound, terminationRound, type PolicyRound, type TerminationRound } from "./e2e/rounds.ts";
import { addSidecars, policyManifest, startRig, stopRig, terminationManifest, waitPolicyReady, NAMESPACE, type Rig } from "./e2e/rig.ts";
import { runBench, stopAll } from "./support/children.ts";
import { raiseOpenFileLimit } from "./support/proc.ts";
import { machineLine, num } from "./support/report.ts";
import { median } from "./support/stats.ts";

const QUICK = process.env.BENCH_QUICK === "1";
const SMALL = { sidecars: 20, connections: 1_000, rounds: QUICK ? 3 : 20 };
const LARGE = { sidecars: 100, users: QUICK ? 20 : 100, perUser: 100, rounds: QUICK ? 2 : 10 };
const BUDGET_MS = 40 * 60_000;
/** BENCH_E2E_SMALL_ONLY=1: the 20-sidecar scale point only. */
const SMALL_ONLY = process.env["BENCH_E2E_SMALL_ONLY"] === "1";

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<void> {
  const started = performance.now();
  header();
  out(`open-file limit: ${raiseOpenFileLimit(LARGE.users * LARGE.perUser + 4_096)}`);
  out("\nsetting up");
  const rig = await startRig(SMALL.sidecars, out);
  const applied = await rig.kubectl(["apply", "-f", "-"], policyManifest(rig.echoPort, true));
  if (applied.code !== 0) throw new Error(`kubectl apply of the policy failed: ${applied.stderr}`);
  await policyEnforcedBy(rig, SMALL.sidecars);
  const kubectlFloorMs = await warmUp(rig);
  out(`  kubectl warmed up; \`kubectl create --dry-run=server\` alone takes ${num(kubectlFloorMs)} ms here (median of 5): the floor of the first clock`);

  const a = await terminations(`(a) kubectl create SessionTermination → last of ${num(SMALL.connections)} tunnels of one user reset`, SMALL.rounds, (i) =>
    terminationRound(rig, i, SMALL.connections),
  );
  const b = await policyChanges(`(b) kubectl apply (ops rule removed) → ops tunnel closed on all ${SMALL.sidecars} sidecars`, rig, SMALL.rounds);

  const reports = [
    terminationReport(`(a) one user's 1,000 tunnels over ${SMALL.sidecars} sidecars`, a, SMALL.connections, { fromInvokeMs: 300, fromReturnMs: 50 }),
    policyReport(`(b) policy change on ${SMALL.sidecars} sidecars`, b, SMALL.sidecars, { fromInvokeMs: 300 }),
    ...(SMALL_ONLY ? [] : await largeScale(rig)),
  ];
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  out(
    [
      "",
      "=".repeat(100),
      `RESULTS (p99 by nearest rank: of ${SMALL.rounds} rounds at ${SMALL.sidecars} sidecars and ${LARGE.rounds} at ${LARGE.sidecars}, the maximum)`,
      `kubectl's own floor here is ~${num(kubectlFloorMs)} ms (dry run); the rest is API server → etcd → operator → Redis → the sidecars, all on the same 2 cores`,
      "(the best documented figure from comparable products is seconds: propagation through token/session expiry or polling)",
      "",
      ...reports.flatMap((r) => r.lines),
      summary(reports.flatMap((r) => r.verdicts)),
      `load average at the end ${num(l1, 2)} ${num(l5, 2)} ${num(l15, 2)} (namespace ${NAMESPACE})`,
      `wall time ${num((performance.now() - started) / 1000)} s`,
    ].join("\n"),
  );
}

/** The second scale point: 80 more sidecars, (c) a group's termination and (d) a policy change on all 100. */
async function largeScale(rig: Rig): Promise<ReturnType<typeof terminationReport>[]> {
  out(`\nstarting ${LARGE.sidecars - SMALL.sidecars} more sidecars`);
  const t = performance.now();
  await addSidecars(rig, LARGE.sidecars - SMALL.sidecars);
  await policyEnforcedBy(rig, LARGE.sidecars);
  out(`  ${LARGE.sidecars} sidecars enforcing the policy (${num((performance.now() - t) / 1000)} s)`);
  const tunnels = LARGE.users * LARGE.perUser;
  const c = await terminations(
    `(c) kubectl create a group's SessionTermination → last of ${num(tunnels)} tunnels of its ${LARGE.users} members reset`,
    LARGE.rounds,
    (i) => groupTerminationRound(rig, i, LARGE.users, LARGE.perUser),
  );
  const d = await policyChanges(`(d) kubectl apply (ops rule removed) → ops tunnel closed on all ${LARGE.sidecars} sidecars`, rig, LARGE.rounds);
  return [
    terminationReport(`(c) one group's ${num(tunnels)} tunnels over ${LARGE.sidecars} sidecars`, c, tunnels, { fromReturnMs: 150 }),
    policyReport(`(d) policy change on ${LARGE.sidecars} sidecars`, d, LARGE.sidecars, { fromReturnMs: 150 }),
  ];
}

async function policyEnforcedBy(rig: Rig, sidecars: number): Promise<void> {
  const policy = await waitPolicyReady(rig, sidecars, 120_000);
  out(`  AccessPolicy applied with kubectl: Ready, enforced by ${policy.status?.enforcingSidecars ?? 0}/${policy.status?.selectedSidecars ?? 0} sidecars`);
}

async function terminations(title: string, rounds: number, round: (i: number) => Promise<TerminationRound>): Promise<TerminationRound[]> {
  out(`\n${title} (${rounds} rounds)`);
  const results: TerminationRound[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await round(i);
    results.push(r);
    out(
      `  round ${String(i + 1).padStart(2)}  ${num(r.closed)} closed, last at ${num(r.allClosedMs, 1)} ms ` +
        `(first ${num(r.firstClosedMs, 1)}; kubectl returned at ${num(r.kubectlMs, 1)}), ECONNRESET ${r.resets}; ` +
        `${r.phase} at ${num(r.completedMs, 1)} ms, ${r.connectionsClosed} connections / ${r.sidecarsAcknowledged} sidecars acknowledged`,
    );
    await pause(200);
  }
  return results;
}

async function policyChanges(title: string, rig: Rig, rounds: number): Promise<PolicyRound[]> {
  out(`\n${title} (${rounds} rounds)`);
  const results: PolicyRound[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await policyRound(rig, i);
    results.push(r);
    out(
      `  round ${String(i + 1).padStart(2)}  ${r.closed}/${rig.sidecars.length} closed, last at ${num(r.allClosedMs, 1)} ms ` +
        `(kubectl returned at ${num(r.kubectlMs, 1)}), ECONNRESET ${r.resets}, engineers tunnel survived: ${r.controlSurvived ? "yes" : "no"}; ` +
        `re-allowed in ${num(r.reallowMs)} ms`,
    );
  }
  return results;
}

/**
 * kubectl's discovery and OpenAPI caches (a user's kubectl has them warm) and the API server's first-request paths,
 * outside the measured rounds: the same create and apply, server-side dry run. Returns kubectl's floor here.
 */
async function warmUp(rig: Rig): Promise<number> {
  for (let i = 0; i < 2; i++) {
    await rig.kubectl(["get", "accesspolicies,sessionterminations", "-o", "name"]);
    await rig.kubectl(["create", "--dry-run=server", "-f", "-"], terminationManifest(`warm-up-${i}`, { subject: "nobody" }));
    await rig.kubectl(["apply", "--dry-run=server", "-f", "-"], policyManifest(rig.echoPort, false));
  }
  // A server-side dry-run create does everything but persist and notify.
  const floor: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await rig.kubectl(["create", "--dry-run=server", "-f", "-"], terminationManifest(`floor-${i}`, { subject: "nobody" }));
    floor.push(performance.now() - t0);
  }
  return median(floor);
}

function header(): void {
  out(
    [
      `Vigil end-to-end benchmark (real kube-apiserver + etcd + Redis, vigil-operator, ${SMALL.sidecars} then ${LARGE.sidecars} vigil-sidecar processes)`,
      machineLine(),
      "Everything (control plane, Redis, operator, sidecars, clients, kubectl) shares this machine's cores on loopback.",
      "Absolute numbers swing ±30 % between runs on these shared machines.",
    ].join("\n"),
  );
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cleanUp(): Promise<void> {
  await stopAll();
  await stopRig().catch((err: unknown) => {
    process.stderr.write(`stopping the control plane failed: ${String(err)}\n`);
  });
}

runBench(main, BUDGET_MS, cleanUp);
