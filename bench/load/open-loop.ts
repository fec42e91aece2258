/**
 * Open-loop load generator (its own process): requests are issued at fixed intended times (`rate` per second)
 * on an undici Pool, whatever the previous requests are doing, and each latency is measured from its INTENDED
 * send time, so queueing behind a slow response counts (no coordinated omission).
 *
 * Usage: node bench/load/open-loop.ts '<json {url, rate, warmupMs, measureMs, connections, headers}>'
 * stdout: `MEASURE_START` when the first measured request is due, `MEASURE_END` when the last one is due, then
 * one JSON line: {p50, p90, p99, max (ms), achievedRps, sent, ok, failed}.
 * Timer granularity (~1 ms) inflates absolutes equally for every target: compare deltas.
 */
import { Pool } from "undici";
import { percentile } from "../support/stats.ts";

interface Options {
  url: string;
  rate: number;
  warmupMs: number;
  measureMs: number;
  connections: number;
  headers: Record<string, string>;
}

const o = JSON.parse(process.argv[2] ?? "{}") as Options;
const url = new URL(o.url);
const pool = new Pool(url.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
const path = url.pathname + url.search;
const interval = 1000 / o.rate;
const warmupCount = Math.round((o.warmupMs * o.rate) / 1000);
const total = warmupCount + Math.round((o.measureMs * o.rate) / 1000);
const latencies: number[] = [];
let ok = 0;
let failed = 0;
let completedInWindow = 0;
let outstanding = 0;
const start = performance.now() + 20;
const windowStart = start + warmupCount * interval;
const windowEnd = start + total * interval;
let next = 0;
let signalledStart = false;
let done: () => void = () => undefined;
const finished = new Promise<void>((r) => (done = r));

function fire(i: number): void {
  const intended = start + i * interval;
  const measured = i >= warmupCount;
  outstanding++;
  pool
    .request({ path, method: "GET", headers: o.headers })
    .then(async (res) => {
      await res.body.dump();
      return res.statusCode;
    })
    .then(
      (status) => {
        const t = performance.now();
        if (measured) {
          if (status === 200) ok++;
          else failed++;
          latencies.push(t - intended);
        }
        if (t >= windowStart && t <= windowEnd && status === 200) completedInWindow++;
      },
      () => {
        if (measured) failed++;
      },
    )
    .finally(() => {
      outstanding--;
      if (next >= total && outstanding === 0) done();
    });
}

function tick(): void {
  const now = performance.now();
  while (next < total && start + next * interval <= now) {
    if (next === warmupCount && !signalledStart) {
      signalledStart = true;
      process.stdout.write("MEASURE_START\n");
    }
    fire(next++);
  }
  if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
  else
    setTimeout(
      () => {
        process.stdout.write("MEASURE_END\n");
        endSignalled();
      },
      Math.max(0, windowEnd - performance.now()),
    );
}

let endSignalled: () => void = () => undefined;
const ended = new Promise<void>((r) => (endSignalled = r));
setTimeout(tick, 20);
await Promise.all([finished, ended]);
await pool.close();
process.stdout.write(
  `${JSON.stringify({
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: percentile(latencies, 100),
    achievedRps: completedInWindow / ((windowEnd - windowStart) / 1000),
    sent: total - warmupCount,
    ok,
    failed,
  })}\n`,
);
