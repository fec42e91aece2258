/**
 * `npm run soak:bus [-- --minutes=N]` — the bus fault rounds of test/integration/faults (pause Redis, kill it and
 * start an empty one, kill it while a termination is created, corrupt key types, forge and replay bus messages),
 * repeated with traffic until N minutes (default 5) have passed, on a control plane of its own. Prints each total
 * with its target and yes/no; exits non-zero when a target is missed.
 */
import { startCluster } from "../test/cluster/harness.ts";
import { applyVigilCrds } from "../test/integration/operator/operator-support.ts";
import { report, runBusFaults, ZERO_TARGETS } from "../test/integration/faults/bus-faults.ts";

const arg = process.argv.find((a) => a.startsWith("--minutes="));
const minutes = Number(arg?.slice("--minutes=".length) ?? process.env["SOAK_MINUTES"] ?? "5");
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write("soak:bus: --minutes must be a positive number\n");
  process.exit(2);
}

const cluster = await startCluster();
let failed: boolean;
try {
  await applyVigilCrds(cluster.env);
  const deadline = Date.now() + minutes * 60_000;
  const started = Date.now();
  const counts = await runBusFaults(cluster.env, {
    until: () => Date.now() >= deadline,
    log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
  });
  process.stdout.write(`\nsoak:bus — ${counts.rounds} round(s) in ${((Date.now() - started) / 60_000).toFixed(1)} min\n${report(counts)}\n`);
  failed = ZERO_TARGETS.some((k) => counts[k] !== 0);
} finally {
  await cluster.stop();
}
process.exit(failed ? 1 : 0);
