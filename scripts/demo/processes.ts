/**
 * The demo's own processes (operator, app, sidecar), each started under test/cluster/guard.sh in a process group
 * of its own (`detached`):
 *   - a terminal's Ctrl-C reaches only the demo, which then stops them in order, by PID;
 *   - if the demo itself dies (even SIGKILL), the guard notices and stops its process (the harness's rule);
 *   - `stop` sends SIGTERM to the guard (which passes it on and waits); `kill` sends SIGKILL to the whole
 *     group the demo created (guard + process), for a forced stop.
 * Output goes to `<logDir>/<name>.log`.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const GUARD = join(import.meta.dirname, "../../test/cluster/guard.sh");

export interface Child {
  name: string;
  /** PID of the guard, which is also the process group's ID. */
  pid: number;
  log: string;
  /** Resolves with the exit code once the guard (and so its process) has exited. */
  exited: Promise<number | null>;
  hasExited(): boolean;
}

export function startChild(name: string, cmd: string, args: readonly string[], env: Record<string, string>, logDir: string, cwd: string): Child {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, "a", 0o600);
  const child = spawn("bash", [GUARD, String(process.pid), cmd, ...args], { stdio: ["ignore", fd, fd], env, cwd, detached: true });
  closeSync(fd);
  let done = false;
  const exited = new Promise<number | null>((resolveExit) => {
    child.once("exit", (code) => {
      done = true;
      resolveExit(code);
    });
    child.once("error", () => {
      done = true;
      resolveExit(null);
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return { name, pid: child.pid, log, exited, hasExited: () => done };
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM, then (after `graceMs`) SIGKILL to the group. Resolves once the guard has exited; then whatever is left
 * in the group the demo created (the guard's polling `sleep`) is killed too, so nothing of it outlives the demo.
 */
export async function stopChild(c: Child, graceMs: number): Promise<void> {
  if (!c.hasExited()) {
    signal(c.pid, "SIGTERM");
    const timer = setTimeout(() => {
      killChild(c);
    }, graceMs);
    await c.exited;
    clearTimeout(timer);
  }
  killChild(c);
}

/** SIGKILL to the guard's process group (the guard and the process it runs). */
export function killChild(c: Child): void {
  signal(-c.pid, "SIGKILL");
}

/** The last lines of a child's log, for an error message. */
export async function logTail(c: Child, lines = 20): Promise<string> {
  const text = await readFile(c.log, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
