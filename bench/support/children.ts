/**
 * Every process the benchmark starts is registered here and stopped by its own PID (SIGTERM, then SIGKILL),
 * also on error, Ctrl-C or an overrun of the time budget. Nothing is ever stopped by name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** Resolves with the next stdout line that satisfies `match`. */
  nextLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** stderr collected so far (for error messages). */
  stderr(): string;
  /** The last 40 lines of stdout (for error messages: a program that logs to stdout says there why it stopped). */
  stdoutTail(): string;
  exited: Promise<unknown>;
}

const tracked = new Map<number, { name: string; proc: ChildProcess | undefined }>();

/** Register a process started elsewhere (e.g. the sidecar helper) so that cleanup stops it too. */
export function track(name: string, pid: number | undefined): void {
  if (pid !== undefined) tracked.set(pid, { name, proc: undefined });
}

export function untrack(pid: number | undefined): void {
  if (pid !== undefined) tracked.delete(pid);
}

export function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const proc = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = proc.pid;
  tracked.set(pid, { name, proc });
  const exited = once(proc, "exit").catch(() => undefined);
  void exited.then(() => tracked.delete(pid));
  let err = "";
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  const waiting: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const backlog: string[] = [];
  const tail: string[] = [];
  createInterface({ input: proc.stdout }).on("line", (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    const i = waiting.findIndex((w) => w.match(line));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(line);
    else backlog.push(line);
  });
  return {
    name,
    pid,
    proc,
    stderr: () => err,
    stdoutTail: () => tail.join("\n"),
    exited,
    nextLine(match, timeoutMs = 60_000) {
      const j = backlog.findIndex(match);
      if (j >= 0) return Promise.resolve(backlog.splice(j, 1)[0]!);
      return new Promise((resolve, reject) => {
        const entry = {
          match,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new Error(`${name}: no expected output within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
        waiting.push(entry);
        void exited.then(() => {
          if (!waiting.includes(entry)) return;
          clearTimeout(timer);
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new Error(`${name} exited (${String(proc.exitCode)}); stderr:\n${err}`));
        });
      });
    },
  };
}

/** Start a Node child that prints `{"port":N}` once listening; resolves with the child and its port. */
export async function startServerChild(name: string, script: string, args: string[] = []): Promise<Child & { port: number }> {
  const child = startChild(name, process.execPath, [script, ...args]);
  const line = await child.nextLine((l) => l.startsWith('{"port"'), 20_000);
  return { ...child, port: (JSON.parse(line) as { port: number }).port };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(pid: number, graceMs = 3_000): Promise<void> {
  if (!alive(pid)) {
    tracked.delete(pid);
    return;
  }
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    tracked.delete(pid);
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  tracked.delete(pid);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...tracked.keys()].map((pid) => stopChild(pid)));
}

/** Synchronous last resort for process 'exit': SIGKILL every tracked PID, one by one. */
export function killAllNow(): void {
  for (const pid of tracked.keys()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  tracked.clear();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a benchmark: `cleanUp` (which must stop everything it started; `stopAll` at least) runs on success,
 * failure, SIGINT/SIGTERM and after `budgetMs`; every tracked PID is killed on process exit as a last resort.
 */
export function runBench(main: () => Promise<void>, budgetMs: number, cleanUp: () => Promise<void> = stopAll): void {
  const finish = (code: number): void => {
    void cleanUp().finally(() => process.exit(code));
  };
  const watchdog = setTimeout(() => {
    process.stderr.write(`benchmark exceeded its ${budgetMs / 1000} s budget; stopping every process it started\n`);
    finish(2);
  }, budgetMs);
  process.once("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      finish(130);
    });
  main().then(
    () => {
      clearTimeout(watchdog);
      finish(0);
    },
    (err: unknown) => {
      clearTimeout(watchdog);
      process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      finish(1);
    },
  );
}
