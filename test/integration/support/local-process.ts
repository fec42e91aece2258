/**
 * A Vigil program (`node operator/main.ts`, `node sidecar/main.ts`) run as a local child process with exactly the
 * given environment (plus PATH/HOME), its output kept for failure messages. Stopped by its PID only: SIGTERM, then
 * SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../../..");

export interface LocalProcess {
  readonly pid: number;
  /** Resolves with the exit code once the process has exited, however it was stopped. */
  readonly exited: Promise<number | null>;
  output(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface LocalProcessOptions {
  /** Node flags before the script (V8 flags such as `--max-semi-space-size=…`, as a container command sets them). */
  nodeArgs?: readonly string[];
  /**
   * A memory cgroup's `cgroup.procs` file: the process enters that cgroup before Node starts (a shell writes its
   * own PID there, then execs Node under the same PID), so every page it ever uses is charged to the cgroup.
   */
  cgroupProcs?: string;
}

export function startLocalProcess(script: string, env: Record<string, string>, opts: LocalProcessOptions = {}): LocalProcess {
  const argv = [...(opts.nodeArgs ?? []), resolve(repoRoot, script)];
  const [command, args] =
    opts.cgroupProcs === undefined ? [process.execPath, argv] : ["/bin/sh", ["-c", 'echo $$ > "$0" && exec "$@"', opts.cgroupProcs, process.execPath, ...argv]];
  const child: ChildProcess = spawn(command, args, {
    cwd: repoRoot,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-200_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = once(child, "exit").then(() => child.exitCode);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid ?? -1,
    exited,
    output: () => out,
    running,
    async stop(graceMs = 10_000) {
      if (running() && child.pid !== undefined) {
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => {
          if (running() && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

/** Polls a Vigil admin port's /readyz until it answers 200; fails with the process output when it exits or times out. */
export async function waitForReadyz(proc: LocalProcess, adminPort: number, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) throw new Error(`${what} exited:\n${proc.output()}`);
    const ok = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready in ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
