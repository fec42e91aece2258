/**
 * The test node leaves nothing behind, even when its owner is killed with SIGKILL (docs/decisions/node-0001): no
 * process of its cgroup tree, no cgroup, no network namespace (its holder is gone), no change to the host's
 * interfaces, routes or nftables rules, no mount of its scratch directory, and no scratch directory.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { nodeSupport } from "../../cluster/node.ts";

const run = promisify(execFile);
const support = await nodeSupport();

async function hostState(): Promise<Record<string, string>> {
  const out = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args)).stdout;
  return {
    links: (await out("ip", ["-o", "link"]))
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .join(" "),
    routes: await out("ip", ["route"]),
    nftables: await out("nft", ["list", "ruleset"]),
  };
}

async function cgroupDirs(name: string): Promise<string[]> {
  const roots = (await readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[2] === "cgroup" || f[2] === "cgroup2")
    .map((f) => f[1] ?? "");
  return roots.map((r) => join(r, name)).filter((d) => existsSync(d));
}

describe.skipIf(!support.ok)("the test node's cleanup", () => {
  it("after SIGKILL of its owner: no process, cgroup, namespace, host network change, mount or file remains", { timeout: 240_000 }, async () => {
    const before = await hostState();
    const child = spawn(process.execPath, [join(import.meta.dirname, "owned-cluster.ts")], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolveLine, reject) => {
      createInterface({ input: child.stdout }).once("line", resolveLine);
      child.once("exit", (code) => {
        reject(new Error(`owner exited ${code}: ${stderr}`));
      });
    });
    const made = JSON.parse(line) as { dir: string; cgroup: string; holderPid: number };
    // Something really runs: the CoreDNS Pod (a pause sandbox and its container, under containerd shims).
    const cgroups = await cgroupDirs(made.cgroup);
    expect(cgroups.length).toBeGreaterThan(0);
    const procs = (
      await run("bash", ["-c", `cat ${cgroups[0] ?? ""}/kubepods/*/*/*/cgroup.procs ${cgroups[0] ?? ""}/kubepods/*/*/cgroup.procs 2>/dev/null || true`])
    ).stdout.trim();
    expect(procs).not.toBe("");

    const killedAt = Date.now();
    child.kill("SIGKILL");
    await vi.waitFor(
      async () => {
        if (existsSync(made.dir)) throw new Error("scratch directory still there");
        if ((await cgroupDirs(made.cgroup)).length > 0) throw new Error("cgroups still there");
      },
      { timeout: 60_000, interval: 250 },
    );
    console.log(`[node cleanup] everything gone ${Date.now() - killedAt} ms after SIGKILL of the owner`);
    expect(existsSync(`/proc/${made.holderPid}`)).toBe(false);
    for (const pid of procs.split(/\s+/)) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(await hostState()).toEqual(before);
    expect((await readFile("/proc/self/mounts", "utf8")).includes(made.dir)).toBe(false);
  });
});
