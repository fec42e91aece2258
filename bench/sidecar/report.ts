/**
 * The printout of `npm run bench:sidecar`: tables per scenario, then every figure with its target and yes/no.
 * Issue 11's targets are the verdicts that count; the §H reference targets of the first benchmark are printed too,
 * and the session-protection targets (every protection in Enforce versus none, same run).
 */
import type { OpenLoopRun, OpenLoopSettings } from "../scenarios/open-loop.ts";
import type { TerminationRound } from "../scenarios/termination.ts";
import type { ThroughputRun, ThroughputSettings } from "../scenarios/throughput.ts";
import type { MemoryCgroupStats } from "../support/cgroup.ts";
import { num, table, verdict, verdictLines, type Verdict } from "../support/report.ts";
import { median, percentile } from "../support/stats.ts";

export interface Settings {
  reps: number;
  closed: ThroughputSettings;
  open: OpenLoopSettings;
  coldPool: number;
  termination: { rounds: number; connections: number };
}

export interface Measured {
  generator: string;
  closed: Map<string, ThroughputRun[]>;
  open: Map<string, OpenLoopRun[]>;
  rounds: TerminationRound[];
  memory: {
    idleRss: number;
    idleAnon: number;
    peerIdleRss: number;
    bareIdleRss: number;
    warmPeak: number;
    termIdle: number;
    termPeak: number;
    limitBytes: number;
    cgroups: { warm: MemoryCgroupStats | undefined; cold: MemoryCgroupStats | undefined; term: MemoryCgroupStats | undefined } | undefined;
    logins: number;
    heapLimitMb: number;
    bytesPerLogin: number;
  };
  nodeArgs: readonly string[];
  peerVersion: string;
  /** What the guarded sidecar answered to its session from another network after the measurements. */
  protectionsCheck: string;
}

const MB = 1048576;

export function report(m: Measured, s: Settings): string {
  const issue: Verdict[] = [];
  const reference: Verdict[] = [];
  const out: string[] = [
    "",
    "=".repeat(100),
    `RESULTS (medians of ${s.reps} interleaved repetitions; sidecar: node ${m.nodeArgs.join(" ")} dist/sidecar/main.js)`,
    "",
  ];
  closedLoop(m, s, out, issue, reference);
  openLoop(m, s, out, issue, reference);
  memory(m, out, issue, reference);
  termination(m, s, out, issue);
  const guarded = protections(m, s, out);
  const summary = (label: string, vs: Verdict[]): string => {
    const failed = vs.filter((v) => !v.met);
    return `${label}: ${vs.length - failed.length}/${vs.length}${failed.length > 0 ? `; not met: ${failed.map((v) => v.label).join("; ")}` : ""}`;
  };
  out.push(
    summary("Issue 11 targets met", issue),
    summary("Reference targets (performance.md §H) met", reference),
    summary("Session-protection targets met", guarded),
  );
  return out.join("\n");
}

const rpsOf = (m: Measured, key: string): number[] => m.closed.get(key)?.map((r) => r.rps) ?? [];
const med = (m: Measured, key: string): number => median(rpsOf(m, key));
const perCore = (m: Measured, key: string): number => median(m.closed.get(key)?.map((r) => r.rps / r.cores) ?? []);
const maxRss = (m: Measured, key: string): number => Math.max(...(m.closed.get(key)?.map((r) => r.maxRssMb) ?? [Number.NaN]));

function closedLoop(m: Measured, s: Settings, out: string[], issue: Verdict[], reference: Verdict[]): void {
  out.push(`1. Closed-loop throughput — ${m.generator}, -c${s.closed.connections}, ${s.closed.seconds} s per run after a ${s.closed.warmupSeconds} s warm-up`);
  const labels: Record<string, string> = {
    direct: "(a) direct to upstream",
    bare: "(b) bare http-proxy (keep-alive)",
    warm: "(c) sidecar, warm token, 10 policies",
    cold: "(d) sidecar, new token per request",
    peer: `(e) oauth2-proxy v${m.peerVersion}, bearer JWT`,
    guarded: "(f) sidecar, warm, every protection Enforce",
  };
  out.push(
    table(
      ["variant", ...Array.from({ length: s.reps }, (_, i) => `rep ${i + 1}`), "median rps", "vs direct", "rps per core", "non-2xx", "sock err"],
      Object.entries(labels).map(([key, label]) => {
        const runs = m.closed.get(key) ?? [];
        return [
          label,
          ...runs.map((r) => num(r.rps)),
          num(med(m, key)),
          `${num((100 * med(m, key)) / med(m, "direct"), 1)} %`,
          num(perCore(m, key)),
          num(runs.reduce((a, r) => a + r.non2xx, 0)),
          num(runs.reduce((a, r) => a + r.errors, 0)),
        ];
      }),
    ),
  );
  const cold = m.closed.get("cold")?.map((r) => r.requests) ?? [];
  out.push(
    `  new-token pool: ${num(s.coldPool)} distinct tokens per repetition; requests per run ${cold.map((n) => num(n)).join(" / ")}` +
      (cold.some((n) => n > s.coldPool) ? " (pool wrapped: later tokens were warm)" : " (no token reused)"),
  );
  out.push(
    `  per-repetition sidecar/bare: ${rpsOf(m, "warm")
      .map((x, i) => num(x / (rpsOf(m, "bare")[i] ?? Number.NaN), 2))
      .join(" / ")}; sidecar/oauth2-proxy: ${rpsOf(m, "warm")
      .map((x, i) => num(x / (rpsOf(m, "peer")[i] ?? Number.NaN), 2))
      .join(" / ")}`,
  );
  out.push(`  rps per core = requests per CPU-second of the serving process (the sidecar is one Node process; oauth2-proxy uses every core Go gives it)`);
  const v = [
    verdict("sidecar (warm) / bare http-proxy", med(m, "warm") / med(m, "bare"), "≥", 1.0),
    verdict("sidecar (new token) / bare http-proxy", med(m, "cold") / med(m, "bare"), "≥", 0.5),
    verdict("sidecar (warm) / oauth2-proxy", med(m, "warm") / med(m, "peer"), "≥", 0.8),
  ];
  const r = [
    verdict("sidecar (warm) / direct  [§H S1]", med(m, "warm") / med(m, "direct"), "≥", 0.15),
    verdict("sidecar (new token) / direct  [§H S2]", med(m, "cold") / med(m, "direct"), "≥", 0.08),
  ];
  out.push(verdictLines(v), verdictLines(r), "");
  issue.push(...v);
  reference.push(...r);
}

function openLoop(m: Measured, s: Settings, out: string[], issue: Verdict[], reference: Verdict[]): void {
  out.push(`2. Open loop at ${s.open.rate} rps, undici Pool ${s.open.connections} connections, latency from intended send time (ms)`);
  const labels: Record<string, string> = {
    direct: "direct to upstream",
    bare: "bare http-proxy (keep-alive)",
    warm: "sidecar, warm token, 10 policies",
    peer: "oauth2-proxy, bearer JWT",
    guarded: "sidecar, warm, every protection Enforce",
  };
  const omed = (key: string, f: (r: OpenLoopRun) => number): number => median(m.open.get(key)?.map(f) ?? []);
  out.push(
    table(
      ["variant", "p50", "p90", "p99", "p99 per rep", "achieved rps", "failed", "CPU core/1k rps"],
      Object.entries(labels).map(([key, label]) => [
        label,
        num(
          omed(key, (r) => r.p50),
          2,
        ),
        num(
          omed(key, (r) => r.p90),
          2,
        ),
        num(
          omed(key, (r) => r.p99),
          2,
        ),
        (m.open.get(key) ?? []).map((r) => num(r.p99, 2)).join(" / "),
        num(omed(key, (r) => r.achievedRps)),
        num((m.open.get(key) ?? []).reduce((a, r) => a + r.failed, 0)),
        num(
          omed(key, (r) => r.corePer1k),
          3,
        ),
      ]),
    ),
  );
  const added = (key: string, q: "p50" | "p99", base = "direct"): number => omed(key, (r) => r[q]) - omed(base, (r) => r[q]);
  out.push(
    `  added vs direct: sidecar p50 ${num(added("warm", "p50"), 2)} / p99 ${num(added("warm", "p99"), 2)} ms; oauth2-proxy p50 ${num(added("peer", "p50"), 2)} / p99 ${num(added("peer", "p99"), 2)} ms; bare http-proxy p50 ${num(added("bare", "p50"), 2)} / p99 ${num(added("bare", "p99"), 2)} ms`,
  );
  const v = [verdict("added p99 at 1000 rps, sidecar vs direct", added("warm", "p99"), "≤", 1, " ms")];
  const r = [
    verdict("added p50, sidecar vs direct  [§H S4]", added("warm", "p50"), "≤", 0.75, " ms"),
    verdict(
      "CPU per 1000 rps, sidecar (warm)  [§H S6]",
      omed("warm", (x) => x.corePer1k),
      "≤",
      0.35,
      " core",
      3,
    ),
  ];
  out.push(
    `  CPU per 1000 rps: sidecar ${num(
      omed("warm", (x) => x.corePer1k),
      3,
    )}, oauth2-proxy ${num(
      omed("peer", (x) => x.corePer1k),
      3,
    )}, bare http-proxy ${num(
      omed("bare", (x) => x.corePer1k),
      3,
    )}, upstream alone ${num(
      omed("direct", (x) => x.corePer1k),
      3,
    )} core`,
  );
  out.push(verdictLines(v), verdictLines(r), "");
  issue.push(...v);
  reference.push(...r);
}

function memory(m: Measured, out: string[], issue: Verdict[], reference: Verdict[]): void {
  const mem = m.memory;
  out.push("3. Memory (VmRSS: resident set, including the shared pages of the Node binary; RssAnon: the process's own)");
  out.push(
    table(
      ["process", "idle VmRSS MB", "at saturation (max VmRSS, closed loop) MB"],
      [
        [
          "sidecar, warm token",
          `${num(mem.idleRss, 1)} (RssAnon ${num(mem.idleAnon, 1)})`,
          `${num(maxRss(m, "warm"), 1)} (VmHWM over the run ${num(mem.warmPeak, 1)})`,
        ],
        ["sidecar, new token per request", "", num(maxRss(m, "cold"), 1)],
        [`oauth2-proxy v${m.peerVersion}`, num(mem.peerIdleRss, 1), num(maxRss(m, "peer"), 1)],
        ["bare http-proxy", num(mem.bareIdleRss, 1), num(maxRss(m, "bare"), 1)],
      ],
    ),
  );
  const v = [
    verdict("RSS idle (sidecar)", mem.idleRss, "≤", 64, " MB", 1),
    verdict("RSS at saturation (sidecar, warm)", maxRss(m, "warm"), "≤", 100, " MB", 1),
    verdict("RSS at saturation (sidecar, new token)", maxRss(m, "cold"), "≤", 100, " MB", 1),
    verdict("RSS at saturation, sidecar (warm) / oauth2-proxy", maxRss(m, "warm") / maxRss(m, "peer"), "≤", 2),
  ];
  const groups = mem.cgroups;
  if (groups === undefined) {
    out.push("  memory cgroups: not available here (no cgroup v1 memory controller): the OOM figures below are n/a");
  } else {
    const row = (label: string, g: MemoryCgroupStats | undefined): string[] =>
      g === undefined
        ? [label, "n/a", "", "", ""]
        : [label, num(g.maxUsageBytes / MB, 1), num(g.failcnt), num(g.oomKills), `${num(g.rssBytes / MB, 1)} / ${num(g.cacheBytes / MB, 1)}`];
    out.push(`  each sidecar in its own memory cgroup, limit ${num(mem.limitBytes / MB)} MiB (the chart's), for its whole life:`);
    out.push(
      table(
        ["memory cgroup", "peak charged MB", "limit hit (failcnt)", "OOM kills", "at the end: rss / page cache MB"],
        [
          row("warm: 60 s of saturation + open loop", groups.warm),
          row("new token: 60 s of saturation", groups.cold),
          row("termination: 20 × 1,000 tunnels", groups.term),
        ],
      ),
    );
  }
  const oom = (g: MemoryCgroupStats | undefined): number => g?.oomKills ?? Number.NaN;
  v.push(
    verdict("OOM kills, sidecar (warm), chart limit", oom(groups?.warm), "≤", 0, "", 0),
    verdict("OOM kills, sidecar (new token), chart limit", oom(groups?.cold), "≤", 0, "", 0),
    verdict("OOM kills, termination scenario, chart limit", oom(groups?.term), "≤", 0, "", 0),
  );
  out.push(
    `  memory per session: at most ${num(mem.logins)} logins cached (session record + verified token, ${num(mem.bytesPerLogin)} B each: ` +
      `an eighth of the ${num(mem.heapLimitMb, 1)} MB V8 heap limit the chart's flags give, ≤ ${num((mem.logins * mem.bytesPerLogin) / MB, 1)} MB); ` +
      `live connections: ${num(((mem.termPeak - mem.termIdle) * 1024) / 1000, 1)} KB RSS per live tunnel (VmHWM with 1,000 tunnels open minus idle)`,
  );
  out.push(verdictLines(v), "");
  issue.push(...v);
  reference.push(verdict("RSS idle (sidecar)  [§H S6]", mem.idleRss, "≤", 64, " MB", 1));
}

function termination(m: Measured, s: Settings, out: string[], issue: Verdict[]): void {
  const times = m.rounds.map((r) => (Number.isNaN(r.allClosedMs) ? Number.POSITIVE_INFINITY : r.allClosedMs));
  out.push(`4. Termination → RST on all ${num(s.termination.connections)} live tunnels of one session (${m.rounds.length} rounds, fresh session each)`);
  out.push(
    table(
      ["publish → last socket closed", "p50", "p99", "max", "min"],
      [["ms", num(percentile(times, 50), 1), num(percentile(times, 99), 1), num(Math.max(...times), 1), num(Math.min(...times), 1)]],
    ),
  );
  const allReset = m.rounds.every((r) => r.closed === s.termination.connections && r.closedBeforePublish === 0);
  out.push(
    `  publish → first socket closed p50 ${num(median(m.rounds.map((r) => r.firstClosedMs)), 1)} ms; ECONNRESET seen per round min ${num(Math.min(...m.rounds.map((r) => r.resets)))}; ` +
      `acks counted ≥ ${num(Math.min(...m.rounds.map((r) => r.ackConnections)))} connections; all closed every round: ${allReset ? "yes" : "no"}`,
  );
  const own = m.rounds.map((r) => r.sidecarResetMs);
  out.push(
    `  publish → the sidecar's reset pass ended (its own clock, vigil_sidecar_termination_last_reset_timestamp_seconds) p50 ${num(percentile(own, 50), 1)} ms, ` +
      `p99 ${num(percentile(own, 99), 1)} ms; the target is on the client-observed time above`,
  );
  out.push(`  (p99 of ${m.rounds.length} samples, nearest rank = the maximum)`);
  const v = [verdict("termination → all 1,000 closed, p99", percentile(times, 99), "≤", 30, " ms", 1)];
  out.push(verdictLines(v), "");
  issue.push(...v);
}

/** Every protection in Enforce (geolocation on) versus the same sidecar without protections, same run, same load. */
function protections(m: Measured, s: Settings, out: string[]): Verdict[] {
  const omed = (key: string, f: (r: OpenLoopRun) => number): number => median(m.open.get(key)?.map(f) ?? []);
  const guarded = rpsOf(m, "guarded");
  const refused =
    (m.closed.get("guarded") ?? []).reduce((a, r) => a + r.non2xx + r.errors, 0) + (m.open.get("guarded") ?? []).reduce((a, r) => a + r.failed, 0);
  out.push(
    "5. Session protections: network binding (ASN), device binding, impossible travel + new country (MaxMind test databases), " +
      "concurrent-session limit, all Enforce — versus (c), the same sidecar and load without protections",
  );
  out.push(
    `  throughput per repetition (f)/(c): ${guarded.map((x, i) => num(x / (rpsOf(m, "warm")[i] ?? Number.NaN), 3)).join(" / ")}; ` +
      `rps per core (f)/(c) ${num(perCore(m, "guarded") / perCore(m, "warm"), 3)} (less sensitive to a loaded machine); ` +
      `p99 at ${s.open.rate} rps (f) ${num(
        omed("guarded", (r) => r.p99),
        2,
      )} ms vs (c) ${num(
        omed("warm", (r) => r.p99),
        2,
      )} ms; CPU per 1000 rps (f) ${num(
        omed("guarded", (r) => r.corePer1k),
        3,
      )} vs (c) ${num(
        omed("warm", (r) => r.corePer1k),
        3,
      )} core`,
  );
  out.push(`  protections were on: ${m.protectionsCheck}`);
  const v = [
    verdict("throughput, every protection Enforce / no protections", med(m, "guarded") / med(m, "warm"), "≥", 0.95, "", 3),
    verdict(
      `added p99 at ${s.open.rate} rps, every protection Enforce vs no protections`,
      omed("guarded", (r) => r.p99) - omed("warm", (r) => r.p99),
      "≤",
      0.2,
      " ms",
    ),
    verdict("requests refused or failed, every protection Enforce (closed + open loop)", refused, "≤", 0, "", 0),
  ];
  out.push(verdictLines(v), "");
  return v;
}
