/**
 * Support for the demo test: `node scripts/demo.ts` as a real child process pointed at the test run's control
 * plane (VIGIL_DEMO_* overrides, a namespace, operator namespace, bus prefix and state directory of its own), and
 * a runner for the shell lines the demo prints (`bash -c "source <env> && exec <line>"`), exactly as a user would
 * paste them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ClusterEnv } from "../../cluster/env.ts";

export const repo = resolve(import.meta.dirname, "../../..");

/** A process whose output is collected as it arrives. */
export class Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #out = "";

  constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((r) =>
      child.once("exit", (code) => {
        r(code);
      }),
    );
    child.stdout?.on("data", (d: Buffer) => (this.#out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.#out += d.toString()));
  }

  get output(): string {
    return this.#out;
  }

  /** Resolves once the output matches `pattern`; rejects on exit or timeout, showing the output so far. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.#out);
      if (m !== null) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${pattern} not seen (${this.child.exitCode === null ? "timeout" : `exit ${this.child.exitCode}`}); output:\n${this.#out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The exit code, or throws after `timeoutMs`. */
  async exitCode(timeoutMs: number): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`still running after ${timeoutMs} ms; output:\n${this.#out}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) process.kill(this.child.pid, "SIGKILL");
  }
}

export interface DemoRun {
  process: Running;
  namespace: string;
  operatorNamespace: string;
  stateDir: string;
}

export async function startDemo(env: ClusterEnv): Promise<DemoRun> {
  const suffix = randomBytes(3).toString("hex");
  const namespace = `demo-shop-${suffix}`;
  const operatorNamespace = `demo-vigil-${suffix}`;
  const stateDir = join(await mkdtemp(join(tmpdir(), "vigil-demo-test-")), "state");
  const child = spawn(process.execPath, [join(repo, "scripts/demo.ts")], {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      VIGIL_DEMO_KUBECONFIG: env.kubeconfig,
      VIGIL_DEMO_REDIS_URL: env.redisUrl,
      VIGIL_DEMO_KUBECTL: env.kubectl,
      ...(env.egressRoutesDir === undefined ? {} : { VIGIL_DEMO_EGRESS_ROUTES_DIR: env.egressRoutesDir }),
      VIGIL_DEMO_NAMESPACE: namespace,
      VIGIL_DEMO_OPERATOR_NAMESPACE: operatorNamespace,
      VIGIL_DEMO_BUS_PREFIX: `vigil-demo-${suffix}:`,
      VIGIL_DEMO_DIR: stateDir,
    },
  });
  return { process: new Running(child), namespace, operatorNamespace, stateDir };
}

/** The command lines of the banner: lines indented by exactly two spaces. */
export function printedCommands(banner: string): string[] {
  return banner
    .split("\n")
    .filter((l) => /^ {2}\S/.test(l))
    .map((l) => l.trim());
}

export function pick(commands: readonly string[], what: string, test: (line: string) => boolean): string {
  const line = commands.find(test);
  if (line === undefined) throw new Error(`the banner has no command for ${what}:\n${commands.join("\n")}`);
  return line;
}

/** Runs one printed line after the printed `source …` line, in the repository (where the user runs the demo). */
export function shell(sourceLine: string, line: string, stdin = false): Running {
  const child = spawn("bash", ["-c", `${sourceLine} && exec ${line}`], {
    cwd: repo,
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" },
  });
  return new Running(child);
}

/** Runs a printed line to completion. */
export async function shellOutput(sourceLine: string, line: string): Promise<{ code: number | null; output: string }> {
  const run = shell(sourceLine, line);
  const code = await run.exitCode(30_000);
  return { code, output: run.output };
}

/** `curl -i` output → status and parsed JSON body. */
export function httpAnswer(output: string): { status: number; body: Record<string, unknown> } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/m.exec(output)?.[1] ?? "0");
  const body = output.slice(output.indexOf("\r\n\r\n") + 4);
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}

/** `name pid` lines of the demo's pids file. */
export async function demoPids(stateDir: string): Promise<Map<string, number>> {
  const text = await readFile(join(stateDir, "pids"), "utf8");
  return new Map(
    text
      .trim()
      .split("\n")
      .map((l) => {
        const [name = "", pid = ""] = l.split(" ");
        return [name, Number(pid)] as const;
      }),
  );
}

/**
 * Every process on the machine that has not exited, with its process group (from /proc; zombies, which are
 * already dead and only wait for a parent to collect them, are left out).
 */
export async function livingProcesses(): Promise<{ pid: number; pgid: number; command: string }[]> {
  const out: { pid: number; pgid: number; command: string }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses, so split after the last ")".
    const close = stat.lastIndexOf(")");
    const [state = "", , pgrp = ""] = stat.slice(close + 2).split(" ");
    if (close < 0 || state === "Z" || state === "X") continue;
    out.push({ pid: Number(entry), pgid: Number(pgrp), command: stat.slice(stat.indexOf("(") + 1, close) });
  }
  return out;
}
