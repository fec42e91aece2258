/**
 * Closed-loop load: `wrk -t1 -c<connections> -d<seconds>` with a Lua script setting `Authorization` (a fixed
 * token, or the next token of a file for every request) and any further fixed headers. When `wrk` is missing it is installed with apt-get
 * (root only); failing that, the in-Node undici generator (bench/load/closed-loop.ts) is used instead, in its
 * own process. Every run reports rps, non-2xx answers and socket errors, so refusals cannot pass for throughput.
 */
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { startChild, stopChild } from "./children.ts";

export interface ClosedLoopResult {
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface ClosedLoopRun {
  url: string;
  /** Fixed bearer token, or a file of tokens (one per line) to cycle through, one per request. */
  auth: { token: string } | { tokensFile: string };
  /** Further headers sent with every request. */
  headers?: Readonly<Record<string, string>>;
  seconds: number;
  connections: number;
}

export interface Generator {
  /** Human-readable name, printed with the results. */
  name: string;
  run(r: ClosedLoopRun): Promise<ClosedLoopResult>;
}

/** wrk if present (or installable), else the Node fallback. */
export function pickGenerator(workDir: string): Generator {
  let version = wrkVersion();
  if (version === undefined && process.getuid?.() === 0) {
    process.stdout.write("wrk not found: trying `apt-get install -y wrk` ...\n");
    const install = spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "ignore", timeout: 180_000 });
    if (install.status !== 0) {
      spawnSync("apt-get", ["update"], { stdio: "ignore", timeout: 180_000 });
      spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "ignore", timeout: 180_000 });
    }
    version = wrkVersion();
  }
  return version === undefined ? nodeGenerator() : wrkGenerator(version, workDir);
}

function wrkVersion(): string | undefined {
  const probe = spawnSync("wrk", ["-v"], { encoding: "utf8", timeout: 5_000 });
  if (probe.error !== undefined) return undefined;
  return /wrk (\S+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1] ?? "unknown";
}

function wrkGenerator(version: string, workDir: string): Generator {
  let scripts = 0;
  return {
    name: `wrk ${version} (-t1, Lua script sets Authorization)`,
    async run(r) {
      const script = join(workDir, `wrk-${scripts++}.lua`);
      const headers = Object.entries(r.headers ?? {}).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`);
      await writeFile(script, headers.join("") + ("token" in r.auth ? fixedTokenLua(r.auth.token) : rotatingTokenLua(r.auth.tokensFile)));
      const child = startChild("wrk", "wrk", ["-t1", `-c${r.connections}`, `-d${r.seconds}s`, "-s", script, r.url]);
      let out = "";
      child.proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => void stopChild(child.pid), (r.seconds + 30) * 1000);
      await child.exited;
      clearTimeout(timer);
      return parseWrk(out, child.stderr());
    },
  };
}

function fixedTokenLua(token: string): string {
  return `wrk.headers["Authorization"] = "Bearer ${token}"\n`;
}

function rotatingTokenLua(file: string): string {
  return [
    "local tokens = {}",
    `for line in io.lines(${JSON.stringify(file)}) do if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end end`,
    "local i = 0",
    "request = function()",
    "  i = i + 1",
    "  if i > #tokens then i = 1 end",
    '  wrk.headers["Authorization"] = tokens[i]',
    "  return wrk.format()",
    "end",
    "",
  ].join("\n");
}

export function parseWrk(out: string, err: string): ClosedLoopResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  if (rps === undefined) throw new Error(`wrk printed no result:\n${out}\n${err}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? "0");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? "0");
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return { rps: Number(rps), requests, non2xx, errors };
}

function nodeGenerator(): Generator {
  const script = resolve(import.meta.dirname, "../load/closed-loop.ts");
  return {
    name: "in-Node undici closed-loop generator (wrk unavailable)",
    async run(r) {
      const options = {
        url: r.url,
        connections: r.connections,
        durationMs: r.seconds * 1000,
        headers: { ...r.headers, ...("token" in r.auth ? { authorization: `Bearer ${r.auth.token}` } : {}) },
        ...("tokensFile" in r.auth ? { tokensFile: r.auth.tokensFile } : {}),
      };
      const child = startChild("closed-loop", process.execPath, [script, JSON.stringify(options)]);
      const line = await child.nextLine((l) => l.startsWith("{"), (r.seconds + 60) * 1000);
      await child.exited;
      return JSON.parse(line) as ClosedLoopResult;
    },
  };
}
