/**
 * `npm run demo` as a newcomer meets it: the demo runs as a real process against the test run's control plane and
 * Redis, and the commands it prints are run as printed (bash, curl, the WebSocket helper, kubectl): alice is let
 * in and sees her identity, bob is refused, the printed `kubectl get vigilsessions` shows both sessions and alice's
 * three live flows, alice's download, WebSocket and tunnel are cut by the printed `kubectl create`, the printed watch
 * shows Completed with what it ended, alice is then refused with SESSION_REVOKED and her session shows Ended with
 * its end reason, and Ctrl-C leaves no process and no file behind.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { tableRows } from "../sessions-api/rig.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { kubectl } from "../support/kubectl.ts";
import { demoPids, livingProcesses, httpAnswer, pick, printedCommands, shell, shellOutput, startDemo, type DemoRun, type Running } from "./demo-process.ts";

const env = clusterEnv();
const READY = /Vigil demo is ready\.[\s\S]*Ctrl-C here stops everything the demo started\.\n/;
let demo: DemoRun | undefined;
const started: Running[] = [];

afterAll(async () => {
  for (const r of started) r.kill();
  demo?.process.kill();
  if (demo !== undefined) await kubectl(env, ["delete", "namespace", demo.namespace, demo.operatorNamespace, "--wait=false"]);
});

describe("npm run demo", () => {
  it("prints commands that work as printed, ends alice's live connections on `kubectl create`, and stops cleanly on Ctrl-C", async () => {
    demo = await startDemo(env);
    const banner = (await demo.process.waitFor(READY, 60_000))[0];
    const commands = printedCommands(banner);
    expect(commands.some((l) => /^bin\/kubectl-vigil console -n \S+$/.test(l))).toBe(true);
    const source = pick(commands, "source", (l) => l.startsWith("source "));
    const aliceHello = pick(commands, "alice's request", (l) => l.includes("$TOKEN_ALICE") && l.endsWith("/hello"));
    const bobHello = pick(commands, "bob's request", (l) => l.includes("$TOKEN_BOB") && l.endsWith("/hello"));

    // 1. alice is let in and the app sees the identity Vigil verified; bob is refused by the named rule.
    const alice = httpAnswer((await shellOutput(source, aliceHello)).output);
    expect(alice.status).toBe(200);
    expect(alice.body).toMatchObject({ hello: "alice", identityHeadersFromVigil: { "x-vigil-subject": "alice", "x-vigil-groups": "engineers" } });
    const bob = httpAnswer((await shellOutput(source, bobHello)).output);
    expect(bob.status).toBe(403);
    expect(bob.body).toMatchObject({ code: "DENIED_BY_RULE", rule: "no-contractors" });

    // 2. Three long-lived connections as alice: the slow download, the WebSocket helper, a CONNECT tunnel.
    const stream = shell(
      source,
      pick(commands, "the download", (l) => l.endsWith("/stream")),
    );
    const websocket = shell(
      source,
      pick(commands, "the WebSocket", (l) => l.includes("ws-client.ts")),
    );
    const tunnel = shell(
      source,
      pick(commands, "the tunnel", (l) => l.includes("telnet://")),
      true,
    );
    started.push(stream, websocket, tunnel);
    await stream.waitFor(/still streaming to alice \(2\)/, 15_000);
    await websocket.waitFor(/← ping 1\n/, 20_000);
    tunnel.child.stdin?.write("hello through the tunnel\n");
    await tunnel.waitFor(/hello through the tunnel/, 10_000);

    // 3. The printed `kubectl get vigilsessions`: both users, alice with her three live flows (run again until the
    //    sidecar's reports arrived, as a user would).
    const sessionsLine = pick(commands, "the sessions", (l) => l.endsWith(`get vigilsessions -n ${demo?.namespace ?? "?"}`));
    const sessionsWide = pick(commands, "the sessions, wide", (l) => l.endsWith(`get vigilsessions -n ${demo?.namespace ?? "?"} -o wide`));
    const rowOf = (rows: Record<string, string>[], user: string): Record<string, string> | undefined => rows.find((r) => (r["USER"] ?? "").startsWith(user));
    await vi.waitFor(
      async () => {
        const listed = await shellOutput(source, sessionsLine);
        expect(listed.code, listed.output).toBe(0);
        const rows = tableRows(listed.output);
        expect(rowOf(rows, "alice")).toMatchObject({ STATE: "Active", FLOWS: "3", CLIENT: "127.0.0.1", WORKLOADS: "web-0" });
        expect(rowOf(rows, "bob")).toMatchObject({ STATE: "Active" });
      },
      { timeout: 20_000, interval: 500 },
    );

    // 4. The printed termination.
    const created = await shellOutput(
      source,
      pick(commands, "the termination", (l) => l.includes(" create ")),
    );
    expect(created.code).toBe(0);
    const name = /sessiontermination\.vigil\.dev\/(end-alice-[a-z0-9]+) created/.exec(created.output)?.[1];
    expect(name, created.output).toBeDefined();

    // 5. The printed watch shows it Completed with the one session and three connections it ended.
    const watch = shell(
      source,
      pick(commands, "the watch", (l) => l.endsWith(" -w")),
    );
    started.push(watch);
    const row = (await watch.waitFor(new RegExp(`^${name ?? "?"}\\s.*Completed.*$`, "m"), 20_000))[0].trim().split(/\s+/);
    watch.kill();
    expect(row.slice(2, 6)).toEqual(["Completed", "1", "3", "1"]); // phase, sessions, connections, sidecars acked

    // …and every one of alice's connections was cut.
    expect(await stream.exitCode(5_000)).not.toBe(0);
    expect(await websocket.exitCode(5_000)).toBe(0);
    expect(websocket.output).toMatch(/connection closed \(code 1006/);
    // curl's telnet client notices the reset when it next writes: the line never comes back.
    tunnel.child.stdin?.write("after the termination\n");
    expect(await tunnel.exitCode(5_000)).not.toBe(0);
    expect(tunnel.output).not.toContain("after the termination");

    // 6. alice's token is refused from now on; bob is still refused by policy; alice's session shows its end.
    const again = httpAnswer((await shellOutput(source, aliceHello)).output);
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ code: "SESSION_REVOKED" });
    expect(httpAnswer((await shellOutput(source, bobHello)).output).status).toBe(403);
    await vi.waitFor(
      async () => {
        const rows = tableRows((await shellOutput(source, sessionsWide)).output);
        expect(rowOf(rows, "alice")).toMatchObject({
          STATE: "Ended",
          FLOWS: "0",
          "END REASON": `Terminated: SessionTermination ${demo?.namespace ?? "?"}/${name ?? "?"}`,
        });
      },
      { timeout: 20_000, interval: 500 },
    );

    // Ctrl-C: exit 0, none of its processes (nor their process groups) left, its files gone.
    const pids = await demoPids(demo.stateDir);
    expect([...pids.keys()].sort()).toEqual(["app", "demo", "operator", "sidecar"]);
    process.kill(pids.get("demo") ?? -1, "SIGINT");
    expect(await demo.process.exitCode(30_000)).toBe(0);
    const left = await livingProcesses();
    for (const [processName, pid] of pids) {
      expect(
        left.filter((p) => p.pid === pid || p.pgid === pid),
        `${processName} (${pid})`,
      ).toEqual([]);
    }
    expect(existsSync(demo.stateDir)).toBe(false);
    await rm(dirname(demo.stateDir), { recursive: true, force: true }); // the test's own temp parent
  }, 120_000);
});
