/**
 * Memory cgroups (v1, /sys/fs/cgroup/memory) for the benchmarks: a child group of the benchmark's own cgroup with a
 * container's memory limit, for one process started inside it (local-process.ts `cgroupProcs`). Read what the
 * kernel charged and whether it ever hit the limit or OOM-killed (memory.max_usage_in_bytes, memory.failcnt,
 * oom_kill in memory.oom_control), then remove the group once its process is gone. Every group created is removed
 * on exit (also on failure) as long as it has no process left; nothing outside the groups created here is touched.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup/memory";

export interface MemoryCgroupStats {
  /** memory.max_usage_in_bytes: the peak the kernel charged (anonymous memory and page cache). */
  maxUsageBytes: number;
  usageBytes: number;
  /** Times the limit was hit (the kernel reclaimed to stay under it). */
  failcnt: number;
  /** Processes the OOM killer killed in this group. */
  oomKills: number;
  /** Peak resident anonymous memory is not tracked by v1; `rss` of memory.stat now, bytes. */
  rssBytes: number;
  cacheBytes: number;
}

export interface MemoryCgroup {
  dir: string;
  procsFile: string;
  limitBytes: number;
  stats(): MemoryCgroupStats;
  /** Resets the peak (memory.max_usage_in_bytes), e.g. before a new phase. */
  resetPeak(): void;
  /** rmdir once empty (call after the process exited); idempotent. */
  remove(): void;
}

const created = new Set<string>();

/** Whether this machine has a writable cgroup v1 memory controller for this process. */
export function memoryCgroupsAvailable(): boolean {
  try {
    const dir = ownGroup();
    return existsSync(join(dir, "memory.limit_in_bytes"));
  } catch {
    return false;
  }
}

function ownGroup(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (line === undefined) throw new Error("no cgroup v1 memory controller for this process");
  return join(ROOT, line.slice(line.lastIndexOf(":") + 1));
}

export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const dir = join(ownGroup(), `vigil-bench-${name}-${process.pid}`);
  mkdirSync(dir);
  created.add(dir);
  writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
  const read = (file: string): string => readFileSync(join(dir, file), "utf8");
  const stat = (key: string): number => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(read("memory.stat"))?.[1] ?? Number.NaN);
  return {
    dir,
    procsFile: join(dir, "cgroup.procs"),
    limitBytes,
    stats: () => ({
      maxUsageBytes: Number(read("memory.max_usage_in_bytes")),
      usageBytes: Number(read("memory.usage_in_bytes")),
      failcnt: Number(read("memory.failcnt")),
      oomKills: Number(/^oom_kill (\d+)$/m.exec(read("memory.oom_control"))?.[1] ?? Number.NaN),
      rssBytes: stat("rss"),
      cacheBytes: stat("cache"),
    }),
    resetPeak: () => {
      writeFileSync(join(dir, "memory.max_usage_in_bytes"), "0");
    },
    remove: () => {
      removeGroup(dir);
    },
  };
}

function removeGroup(dir: string): void {
  if (!created.has(dir)) return;
  try {
    rmdirSync(dir);
    created.delete(dir);
  } catch {
    // still has a process (it will be retried on exit) or already gone
    if (!existsSync(dir)) created.delete(dir);
  }
}

/** Removes every group created here that has no process left (process exit, after the children were stopped). */
export function removeAllCgroups(): void {
  for (const dir of [...created]) removeGroup(dir);
}
