/**
 * Closed-loop fallback generator (its own process), used only when `wrk` is not installed: `connections`
 * workers on an undici Pool, each sending its next request as soon as the previous answered.
 *
 * Usage: node bench/load/closed-loop.ts '<json {url, connections, durationMs, headers, tokensFile?}>'
 * With `tokensFile`, request i carries `Authorization: Bearer <line i mod N>` (a new token per request).
 * stdout: one JSON line {rps, requests, non2xx, errors}.
 */
import { readFileSync } from "node:fs";
import { Pool } from "undici";

interface Options {
  url: string;
  connections: number;
  durationMs: number;
  headers: Record<string, string>;
  tokensFile?: string;
}

const o = JSON.parse(process.argv[2] ?? "{}") as Options;
const url = new URL(o.url);
const path = url.pathname + url.search;
const tokens =
  o.tokensFile === undefined
    ? []
    : readFileSync(o.tokensFile, "utf8")
        .split("\n")
        .filter((l) => l !== "");
const pool = new Pool(url.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
let requests = 0;
let non2xx = 0;
let errors = 0;
let counter = 0;
const started = performance.now();
const deadline = started + o.durationMs;

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const headers = tokens.length === 0 ? o.headers : { ...o.headers, authorization: `Bearer ${tokens[counter++ % tokens.length] ?? ""}` };
    try {
      const res = await pool.request({ path, method: "GET", headers });
      await res.body.dump();
      requests++;
      if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
    } catch {
      errors++;
    }
  }
}

await Promise.all(Array.from({ length: o.connections }, () => worker()));
const elapsed = (performance.now() - started) / 1000;
await pool.close();
process.stdout.write(`${JSON.stringify({ rps: requests / elapsed, requests, non2xx, errors })}\n`);
