/**
 * A Vigil program (`node operator/main.ts`, `node sidecar/main.ts`) run as a local child process with exactly the
 * given environment (plus PATH/HOME), its output kept for failure messages. Stopped by its PID only: SIGTERM, then
 * SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "../../..");

export interface LocalProcess {
  readonly pid: number;
  output(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

export function startLocalProcess(script: string, env: Record<string, string>): LocalProcess {
  const child: ChildProcess = spawn(process.execPath, [resolve(repoRoot, script)], {
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
