import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { join } from "node:path";

export interface Managed {
  name: string;
  /** PID of the guard that owns the server process. */
  pid: number;
  log: string;
  exited: Promise<number | null>;
}

/**
 * Starts `cmd` under guard.sh so it dies with this process even on SIGKILL; output goes to `<dir>/<name>.log`.
 * Stopped by its own PID (stopProcess), never by name.
 */
export function startProcess(dir: string, name: string, cmd: string, args: string[]): Managed {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn("bash", [join(import.meta.dirname, "guard.sh"), String(process.pid), cmd, ...args], {
    stdio: ["ignore", fd, fd],
    cwd: dir,
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolveExit) => {
    child.once("exit", (code) => {
      resolveExit(code);
    });
    child.once("error", () => {
      resolveExit(null);
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  return { name, pid: child.pid, log, exited };
}

export async function stopProcess(p: Managed, timeoutMs = 15_000): Promise<void> {
  try {
    process.kill(p.pid, "SIGTERM");
  } catch {
    return; // already gone
  }
  const timer = new Promise<"timeout">((r) =>
    setTimeout(() => {
      r("timeout");
    }, timeoutMs).unref(),
  );
  if ((await Promise.race([p.exited, timer])) === "timeout") {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Polls `check` until it resolves true; fails with the tail of the process log. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, p?: Managed): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const state = { exited: false };
  void p?.exited.then(() => {
    state.exited = true;
  });
  for (;;) {
    if (await check().catch(() => false)) return;
    if (state.exited || Date.now() > deadline) {
      const { readFile } = await import("node:fs/promises");
      const tail = p ? (await readFile(p.log, "utf8").catch(() => "")).split("\n").slice(-25).join("\n") : "";
      throw new Error(`${what} did not become ready${state.exited ? " (process exited)" : ` within ${timeoutMs} ms`}\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
