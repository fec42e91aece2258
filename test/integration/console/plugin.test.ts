/**
 * kubectl-vigil against the real control plane during a live journey (live-journey.ts): every command and output
 * format, through bin/kubectl-vigil and through the real `kubectl vigil` (plugin on PATH); RBAC refusals as a clear
 * message and exit 3; usage errors exit 2; `terminate --wait` on alice's live WebSocket to Completed; `audit -o csv`
 * parsed back.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import type WebSocket from "ws";
import type { VigilSession } from "../../../operator/api/sessions/v1alpha1.ts";
import type { AuditEvent } from "../../../cli/core/audit.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { serviceAccountKubeconfig } from "../../cluster/service-account.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { tableRows } from "../sessions-api/rig.ts";
import { startLiveJourney, type LiveJourney } from "./live-journey.ts";
import { parseCsv, run, vigil } from "./plugin-cli.ts";

const id = randomBytes(3).toString("hex");
const waitFor = <T>(fn: () => Promise<T> | T, timeout = 20_000): Promise<T> => vi.waitFor(fn, { timeout, interval: 200 });

describe("kubectl vigil", () => {
  let env: ClusterEnv;
  let journey: LiveJourney | undefined;
  const jj = (): LiveJourney => {
    if (journey === undefined) throw new Error("no journey");
    return journey;
  };
  let kc: string;
  let ns: string;
  let alice: string;
  let ws: WebSocket | undefined;
  const v = (...args: string[]) => vigil(kc, args);

  beforeAll(async () => {
    env = clusterEnv();
    kc = env.kubeconfig;
    journey = await startLiveJourney(env, id);
    ns = jj().namespace;
    expect((await jj().get(jj().users.alice, "/orders")).status).toBe(200);
    const socket = await jj().websocket(jj().users.alice);
    ws = socket;
    socket.send("hello");
    await once(socket, "message");
    // The sidecar reports the WebSocket when it opens and its byte counters (the "hello" and its echo) at its sweep.
    const bytes = jj().bytesOf(socket);
    alice = (await jj().session(jj().users.alice, (s) => s.flows.some((f) => f.bytesIn === bytes.in && f.bytesOut === bytes.out))).metadata.name;
  }, 240_000);

  afterAll(async () => {
    ws?.terminate();
    await journey?.stop();
  }, 120_000);

  describe("help and usage", () => {
    it("answers -h on every command with its usage and flags (exit 0), and kubectl finds it as a plugin", async () => {
      for (const command of ["sessions", "terminate", "status", "audit", "console"]) {
        const r = await v(command, "-h");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`kubectl vigil ${command}`);
        expect(r.stdout).toContain("--kubeconfig PATH");
      }
      const top = await run(env.kubectl, ["vigil", "-h"], kc);
      expect(top.code).toBe(0);
      expect(top.stdout).toContain("Commands:");
      const plugins = await run(env.kubectl, ["plugin", "list"], kc);
      expect(plugins.stdout).toContain("kubectl-vigil");
    });

    it("exits 2 with what to do on bad usage", async () => {
      const unknown = await v("sesions");
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown command "sesions"');
      const flag = await v("sessions", "--colour");
      expect(flag.code).toBe(2);
      expect(flag.stderr).toContain("see kubectl vigil sessions -h");
      const format = await v("sessions", "-o", "csv");
      expect(format.code).toBe(2);
      expect(format.stderr).toContain("use one of table, wide, json, yaml, name");
      expect((await v("sessions", "-n", ns, "-A")).stderr).toContain("-n and -A exclude each other");
      expect((await v("sessions", "--state", "Running", "-n", ns)).stderr).toContain("use one of Active, Idle, Ended");
      const context = await v("sessions", "--context", "nope");
      expect(context.code).toBe(2);
      expect(context.stderr).toContain('context "nope" is not in the kubeconfig');
      const file = await v("sessions", "--kubeconfig", "/nonexistent/kubeconfig");
      expect(file.code).toBe(2);
      expect(file.stderr).toContain("cannot read the kubeconfig /nonexistent/kubeconfig");
    });
  });

  describe("sessions", () => {
    it("lists the namespace's sessions as a table, with the live flow", async () => {
      const r = await v("sessions", "-n", ns);
      expect(r.code).toBe(0);
      const rows = tableRows(r.stdout);
      expect(Object.keys(rows[0] ?? {})).toEqual(["ID", "USER", "WORKLOADS", "CLIENT", "STATE", "FLOWS", "AGE", "LAST ACTIVE"]);
      // The injection told the sidecar its pod's owning Deployment (from the ReplicaSet and its pod-template-hash).
      expect(rows.find((x) => x["ID"] === alice)).toMatchObject({
        USER: "alice@example.test",
        WORKLOADS: "web",
        CLIENT: "127.0.0.1",
        STATE: "Active",
        FLOWS: "1",
      });
      expect(rows.map((x) => x["USER"]).sort()).toEqual(["alice@example.test", "bob@example.test"]);
      // The same through kubectl, which finds the plugin on PATH.
      const viaKubectl = await run(env.kubectl, ["vigil", "sessions", "-n", ns], kc);
      expect(viaKubectl.code).toBe(0);
      expect(viaKubectl.stdout).toContain(alice);
    });

    it("prints -o wide, json, yaml and name, and -A with a NAMESPACE column", async () => {
      const wide = tableRows((await v("sessions", "-n", ns, "-o", "wide")).stdout);
      expect(wide.find((x) => x["ID"] === alice)).toMatchObject({
        GROUPS: "engineers",
        "USER AGENT": "journey-alice/1.0",
        "FIRST IP": "127.0.0.1",
        "END REASON": "<none>",
      });
      const json = JSON.parse((await v("sessions", "-n", ns, "-o", "json")).stdout) as { kind: string; items: VigilSession[] };
      expect(json.kind).toBe("List");
      const mine = json.items.find((s) => s.metadata.name === alice);
      // Bytes as the client socket counts them: the upgrade request, the 101 answer, and the framed "hello" both ways.
      const bytes = jj().bytesOf(ws as WebSocket);
      expect(bytes.in).toBeGreaterThan(5);
      expect(mine?.flows.map((f) => [f.kind, f.bytesIn, f.bytesOut])).toEqual([["websocket", bytes.in, bytes.out]]);
      const yaml = parseYaml((await v("sessions", "-n", ns, "-o", "yaml")).stdout) as { items: VigilSession[] };
      expect(yaml.items.map((s) => s.kind)).toEqual(["VigilSession", "VigilSession"]);
      expect((await v("sessions", "-n", ns, "-o", "name")).stdout).toContain(`vigilsession.sessions.vigil.dev/${alice}\n`);
      const all = tableRows((await v("sessions", "-A")).stdout);
      expect(Object.keys(all[0] ?? {})[0]).toBe("NAMESPACE");
      expect(all.filter((x) => x["NAMESPACE"] === ns)).toHaveLength(2);
    });

    it("filters on the server by user, group, workload and state", async () => {
      const ids = async (...args: string[]) =>
        (await v("sessions", "-n", ns, "-o", "name", ...args)).stdout
          .trim()
          .split("\n")
          .filter((l) => l !== "").length;
      expect(await ids("--user", "alice@example.test")).toBe(1);
      expect(await ids("--user", "bob")).toBe(1);
      expect(await ids("--group", "oncall")).toBe(1);
      expect(await ids("--group", "engineers")).toBe(2);
      expect(await ids("--workload", "web")).toBe(2);
      expect(await ids("--workload", jj().pod)).toBe(2);
      expect(await ids("--workload", "api")).toBe(0);
      expect(await ids("--state", "active")).toBe(2);
      const none = await v("sessions", "-n", ns, "--state", "Ended");
      expect(none.code).toBe(0);
      expect(none.stderr).toContain(`No sessions found in ${ns} namespace.`);
    });

    it("shows one session with its flows and audit timeline, and records the view", async () => {
      const r = await v("sessions", "get", alice, "-n", ns);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Session:       ${alice}`);
      expect(r.stdout).toContain("User:          alice@example.test");
      expect(r.stdout).toMatch(/websocket\s+web-\S+\s+127\.0\.0\.1:\d+/);
      expect(r.stdout).toMatch(/VF001I\s+flow\.open/);
      const json = JSON.parse((await v("sessions", "get", alice, "-n", ns, "-o", "json")).stdout) as VigilSession;
      expect(json.metadata.name).toBe(alice);
      // The view is in the audit trail with the viewer's identity (the admin kubeconfig's user).
      const audit = JSON.parse((await v("audit", "-n", ns, "--code", "VC001I", "-o", "json")).stdout) as AuditEvent[];
      expect(audit.find((e) => e.session === alice)).toMatchObject({
        type: "console.view",
        user: "alice@example.test",
        actor: expect.stringMatching(/.+/) as unknown,
        namespace: ns,
      });
      const missing = await v("sessions", "get", "s_AAAAAAAAAAAAAAAAAAAAAA", "-n", ns);
      expect(missing.code).toBe(4);
      expect(missing.stderr).toContain("not found in namespace");
      expect((await v("sessions", "get", "alice", "-n", ns)).code).toBe(2);
    });
  });

  describe("RBAC", () => {
    it("says clearly when the user may not read sessions, may not terminate, or may not see the operator (exit 3)", async () => {
      await kubectlOk(env, ["create", "serviceaccount", "nobody"], { namespace: ns });
      const nobody = await serviceAccountKubeconfig(env, ns, "nobody");
      const r = await vigil(nobody, ["sessions", "-n", ns]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`cannot list resource "vigilsessions" in API group "sessions.vigil.dev" in the namespace "${ns}"`);
      expect(r.stderr).toContain("your RBAC does not allow this");
      const t = await vigil(nobody, ["terminate", alice, "-n", ns, "--reason", "x"]);
      expect(t.code).toBe(3);
      expect(t.stderr).toContain('cannot create resource "sessionterminations"');
      const s = await vigil(nobody, ["status", "-n", ns]);
      expect(s.code).toBe(0);
      expect(s.stdout).toMatch(/Operator:\s+unknown — .*forbidden/);
      expect(s.stdout).toMatch(/Policies:\n\s+unknown — .*cannot list resource "accesspolicies"/);
    });
  });

  describe("status", () => {
    it("shows the operator, its leader, the bus revision, sidecars, policies and terminations", async () => {
      const r = await v("status", "-n", ns);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Operator:\\s+${jj().operator.system}/\\S+-operator, version \\S+, \\d+/\\d+ replicas ready`));
      expect(r.stdout).toMatch(/Leader:\s+vigil-operator-local, lease renewed/);
      expect(r.stdout).toMatch(/Sessions API:\s+Available/);
      expect(r.stdout).toMatch(/Bus:\s+revision \d+; every policy Ready/);
      // No operator Pod runs on this node-less control plane: the pod proxy cannot reach it, and status says so.
      expect(r.stdout).toMatch(/Metrics:\s+not available — .*pods\/proxy/);
      expect(r.stdout).toMatch(new RegExp(`${ns}\\s+0/1\\s+1\\s+1`));
      expect(r.stdout).toMatch(/web-access\s+True\s+True\s+1\/1\s+\d+/);
      const json = JSON.parse((await v("status", "-n", ns, "-o", "json")).stdout) as { policies: { ok: boolean; value: unknown[] } };
      expect(json.policies.ok).toBe(true);
      expect(json.policies.value).toHaveLength(1);
    });
  });

  describe("terminate", () => {
    it("refuses bad requests before calling the API (exit 2)", async () => {
      expect((await v("terminate", "-n", ns, "--reason", "x")).stderr).toContain("name whom to terminate");
      expect((await v("terminate", "--all", "-n", ns, "--reason", "x")).stderr).toContain("confirm with --yes");
      expect((await v("terminate", alice, "-n", ns)).stderr).toContain("--reason is required");
      expect((await v("terminate", alice, "--user", "bob", "-n", ns, "--reason", "x")).stderr).toContain("name one target only");
      const bad = await v("terminate", alice, "-n", ns, "--reason", "x", "--revoke-for", "1 hour");
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--revoke-for 1 hour");
    });

    it("ends alice's live session with --wait: progress on stderr, Completed with the counts, exit 0", async () => {
      if (ws === undefined) throw new Error("no WebSocket");
      const closed = once(ws, "close");
      const r = await v("terminate", alice, "-n", ns, "--reason", "plugin test", "--revoke-for", "1m", "--wait", "--timeout", "60s");
      expect(r.stderr).toMatch(/(Pending|Propagating|Completed): /);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^sessiontermination\.vigil\.dev\/kubectl-vigil-\w+ created\n/);
      // The WebSocket (alice's requests went on connections of their own, closed after the answer).
      const counts = /Completed: (\d+) sessions, (\d+) connections ended, 1\/1 sidecars acknowledged/.exec(r.stdout);
      expect(counts?.[1]).toBe("1");
      expect(counts?.[2]).toBe("1");
      await closed;
      expect((await jj().get(jj().users.alice, "/orders")).status).toBe(401);
      const name = /sessiontermination\.vigil\.dev\/(\S+) created/.exec(r.stdout)?.[1] ?? "";
      const t = parseYaml(await kubectlOk(env, ["get", "sessiontermination", name, "-o", "yaml"], { namespace: ns })) as {
        spec: unknown;
        metadata: { annotations: Record<string, string> };
      };
      expect(t.spec).toEqual({ target: { sessionID: alice }, reason: "plugin test", revokeFor: "1m" });
      expect(t.metadata.annotations["vigil.dev/requested-by"]).toBe("vigil-test-admin"); // the admin kubeconfig's user, from SelfSubjectReview
      await waitFor(async () => {
        expect(JSON.parse((await v("sessions", "get", alice, "-n", ns, "-o", "json")).stdout)).toMatchObject({
          state: "Ended",
          endReason: `Terminated: SessionTermination ${ns}/${name}`,
          flows: [],
        });
      });
    });

    it("exits 6 when --wait times out, and prints -o name", async () => {
      // A timeout of 0 s ends the wait before the first read: the created termination is named, exit 6.
      const r = await v("terminate", "--group", "nobody", "-n", ns, "--reason", "timeout test", "-o", "name", "--wait", "--timeout", "0s");
      expect(r.code).toBe(6);
      expect(r.stdout).toMatch(/^sessiontermination\.vigil\.dev\/kubectl-vigil-\w+\n$/);
      expect(r.stderr).toContain("did not finish within 0s");
    });
  });

  describe("audit", () => {
    it("exports the audit events as CSV that parses back, and filters by user and time", async () => {
      const r = await v("audit", "-n", ns, "--since", "1h", "-o", "csv");
      expect(r.code).toBe(0);
      const [header, ...rows] = parseCsv(r.stdout);
      expect(header).toEqual(["time", "code", "type", "outcome", "user", "actor", "namespace", "session", "pod", "reason", "source"]);
      const ofAlice = rows.filter((row) => row[7] === alice);
      const codes = ofAlice.map((row) => row[1]);
      expect(codes).toEqual(expect.arrayContaining(["VF001I", "VF003I", "VC001I", "VC002I"]));
      expect(ofAlice.find((row) => row[1] === "VC002I")?.[9]).toContain("plugin test");
      for (const row of rows) expect(row).toHaveLength(header?.length ?? 0);
      const bob = JSON.parse((await v("audit", "-n", ns, "--user", "bob@example.test", "-o", "json")).stdout) as AuditEvent[];
      expect(bob.every((e) => e.user === "bob@example.test" || e.actor === "bob@example.test")).toBe(true);
      const future = await v("audit", "-n", ns, "--since", "0s", "-o", "csv");
      expect(parseCsv(future.stdout)).toHaveLength(1);
      const table = await v("audit", "-n", ns);
      expect(table.stdout).toMatch(/TIME\s+NAMESPACE\s+CODE\s+EVENT/);
    });
  });
});
