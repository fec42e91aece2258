/** Process figures from /proc: CPU seconds (utime+stime, all threads) and resident memory. Linux only. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticks: number | undefined;

function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime + stime of the process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Field 2 (comm) may contain spaces; everything after the last ')' is space separated from field 3 on.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

function statusKb(pid: number, key: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]);
}

/** Current resident set (VmRSS), MB. */
export function rssMb(pid: number): number {
  return statusKb(pid, "VmRSS") / 1024;
}

/** Peak resident set since start (VmHWM), MB. */
export function peakRssMb(pid: number): number {
  return statusKb(pid, "VmHWM") / 1024;
}

/** Samples VmRSS every `everyMs` until stopped; returns the maximum seen. */
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let max = 0;
  const take = (): void => {
    try {
      max = Math.max(max, rssMb(pid));
    } catch {
      // process gone; keep what we have
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

/** The open-file limits this process inherited (soft / hard), from /proc/self/limits. */
export function openFileLimits(): { soft: string; hard: string } {
  const line =
    readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files")) ?? "";
  const [soft = "?", hard = "?"] = line.replace("Max open files", "").trim().split(/\s+/);
  return { soft, hard };
}

/**
 * Node has no setrlimit: when the soft open-file limit is below `needed`, try util-linux `prlimit` on this
 * process (soft := hard) before any child is started, so the children inherit it. Returns what happened.
 */
export function raiseOpenFileLimit(needed: number): string {
  const before = openFileLimits();
  const soft = Number(before.soft);
  if (before.soft === "unlimited" || soft >= needed) return `soft ${before.soft}, hard ${before.hard}: enough, left as is`;
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${before.hard}:${before.hard}`], { stdio: "ignore" });
  } catch {
    return `soft ${before.soft}, hard ${before.hard}: below ${needed} and prlimit failed (run \`ulimit -n ${needed}\` first)`;
  }
  const after = openFileLimits();
  return `raised with prlimit from soft ${before.soft} to ${after.soft} (hard ${after.hard})`;
}
