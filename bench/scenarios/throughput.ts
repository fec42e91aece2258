/**
 * Scenario 1 — closed-loop saturation throughput. Variants are interleaved (the order rotates every
 * repetition), each run preceded by a short warm-up against the same target; while a proxy is measured its
 * VmRSS is sampled (the "at saturation" memory figure) and its CPU time taken (throughput per core).
 */
import type { ClosedLoopResult, ClosedLoopRun, Generator } from "../support/closed-loop.ts";
import { cpuSeconds, sampleRss } from "../support/proc.ts";
import { num } from "../support/report.ts";

export interface ThroughputVariant {
  key: string;
  label: string;
  url: string;
  /** Token for the warm-up run. */
  warmupToken: string;
  auth(rep: number): ClosedLoopRun["auth"];
  /** Further headers on every request (warm-up included). */
  headers?: ClosedLoopRun["headers"];
  /** The serving process: its RSS is sampled and its CPU time taken while measuring. */
  rssPid?: number;
}

export interface ThroughputRun extends ClosedLoopResult {
  rep: number;
  maxRssMb: number;
  /** Cores the serving process used during the run (NaN without `rssPid`). */
  cores: number;
}

export interface ThroughputSettings {
  reps: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
}

export async function runThroughput(gen: Generator, variants: ThroughputVariant[], s: ThroughputSettings): Promise<Map<string, ThroughputRun[]>> {
  const results = new Map<string, ThroughputRun[]>(variants.map((v) => [v.key, []]));
  for (let rep = 0; rep < s.reps; rep++) {
    const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
    for (const v of order) {
      const headers = v.headers ?? {};
      await gen.run({ url: v.url, auth: { token: v.warmupToken }, headers, seconds: s.warmupSeconds, connections: s.connections });
      const rss = v.rssPid === undefined ? undefined : sampleRss(v.rssPid);
      const cpu0 = v.rssPid === undefined ? Number.NaN : cpuSeconds(v.rssPid);
      const t0 = performance.now();
      const result = await gen.run({ url: v.url, auth: v.auth(rep), headers, seconds: s.seconds, connections: s.connections });
      const cores = v.rssPid === undefined ? Number.NaN : (cpuSeconds(v.rssPid) - cpu0) / ((performance.now() - t0) / 1000);
      const maxRssMb = rss?.stop() ?? Number.NaN;
      results.get(v.key)!.push({ ...result, rep, maxRssMb, cores });
      const bad = result.non2xx + result.errors > 0 ? `  (non-2xx ${result.non2xx}, socket errors ${result.errors})` : "";
      process.stdout.write(`  [closed loop] rep ${rep + 1} ${v.label.padEnd(28)} ${num(result.rps).padStart(8)} rps${bad}\n`);
    }
  }
  return results;
}
