/**
 * Scenarios 2 and 3 — open loop at a fixed rate (generator in its own process, bench/load/open-loop.ts):
 * latency percentiles per target, and the CPU (utime+stime from /proc/<pid>/stat) that the proxying process
 * spent during the measured window, per 1000 achieved rps. Variants interleaved, order rotating per repetition.
 */
import { resolve } from "node:path";
import { startChild } from "../support/children.ts";
import { cpuSeconds } from "../support/proc.ts";
import { num } from "../support/report.ts";

export interface OpenLoopVariant {
  key: string;
  label: string;
  url: string;
  token: string;
  /** Further headers on every request. */
  headers?: Readonly<Record<string, string>>;
  /** The process whose CPU is charged to this variant (the proxy, or the upstream for "direct"). */
  cpuPid: number;
}

export interface OpenLoopRun {
  rep: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  achievedRps: number;
  ok: number;
  failed: number;
  /** Cores used by cpuPid during the window. */
  cores: number;
  /** Cores per 1000 achieved rps. */
  corePer1k: number;
}

export interface OpenLoopSettings {
  reps: number;
  rate: number;
  connections: number;
  warmupMs: number;
  measureMs: number;
}

const GENERATOR = resolve(import.meta.dirname, "../load/open-loop.ts");

export async function runOpenLoop(variants: OpenLoopVariant[], s: OpenLoopSettings): Promise<Map<string, OpenLoopRun[]>> {
  const results = new Map<string, OpenLoopRun[]>(variants.map((v) => [v.key, []]));
  for (let rep = 0; rep < s.reps; rep++) {
    const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
    for (const v of order) {
      const run = await once(v, s);
      results.get(v.key)!.push({ ...run, rep });
      process.stdout.write(
        `  [open loop ${s.rate}/s] rep ${rep + 1} ${v.label.padEnd(22)} p50 ${num(run.p50, 2)} ms  p99 ${num(run.p99, 2)} ms  ` +
          `${num(run.achievedRps)} rps  ${num(run.corePer1k, 3)} core/1k rps${run.failed > 0 ? `  (${run.failed} failed)` : ""}\n`,
      );
    }
  }
  return results;
}

async function once(v: OpenLoopVariant, s: OpenLoopSettings): Promise<Omit<OpenLoopRun, "rep">> {
  const options = {
    url: v.url,
    rate: s.rate,
    warmupMs: s.warmupMs,
    measureMs: s.measureMs,
    connections: s.connections,
    headers: { ...v.headers, authorization: `Bearer ${v.token}` },
  };
  const child = startChild("open-loop", process.execPath, [GENERATOR, JSON.stringify(options)]);
  const budget = s.warmupMs + s.measureMs + 30_000;
  await child.nextLine((l) => l === "MEASURE_START", budget);
  const cpu0 = cpuSeconds(v.cpuPid);
  const t0 = performance.now();
  await child.nextLine((l) => l === "MEASURE_END", budget);
  const cpu1 = cpuSeconds(v.cpuPid);
  const t1 = performance.now();
  const result = JSON.parse(await child.nextLine((l) => l.startsWith("{"), 30_000)) as Omit<OpenLoopRun, "rep" | "cores" | "corePer1k">;
  await child.exited;
  const cores = (cpu1 - cpu0) / ((t1 - t0) / 1000);
  return { ...result, cores, corePer1k: cores / (result.achievedRps / 1000) };
}
