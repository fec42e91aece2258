/**
 * Sessions as a Kubernetes API, through the real aggregation layer and the real kubectl: the chart installed, the
 * sessions API run in-process from the Deployment's environment with the chart's ServiceAccount (rig.ts), its
 * SessionIndex fed directly. Discovery and `kubectl api-resources`, `kubectl explain`, get/list (Table, -o wide,
 * -o yaml, -A, --chunk-size, --field-selector), watch (-w), delete (= a SessionTermination naming the user), a
 * namespace admin who sees only their namespace, ended and stale sessions, clear errors for bad input, and least
 * privilege of the chart's sessions RBAC from the API server's audit log.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { V1ClusterRole } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { VigilSession } from "../../../operator/api/sessions/v1alpha1.ts";
import { terminationName } from "../../../operator/sessions-api/terminate.ts";
import { auditedCalls } from "../../cluster/audit.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { describePermission, expandRules, unusedPermissions } from "../e2e/rbac-usage.ts";
import { newSessionId, seen, startSessionsRig, tableRows, type SessionsRig } from "./rig.ts";

const id = randomBytes(3).toString("hex");
const SHOP = `shop-${id}`;
const WEB = `web-${id}`;
const JANE = `jane-${id}`;

const waitFor = <T>(fn: () => Promise<T> | T, timeout = 20_000): Promise<T> => vi.waitFor(fn, { timeout, interval: 100 });

describe("sessions.vigil.dev through the aggregation layer", () => {
  let env: ClusterEnv;
  let rig: SessionsRig;
  const alice = newSessionId();
  const bob = newSessionId();
  const carol = newSessionId();

  const get = (args: string[], namespace?: string): Promise<string> => kubectlOk(env, ["get", ...args], namespace === undefined ? {} : { namespace });

  beforeAll(async () => {
    env = clusterEnv();
    for (const ns of [SHOP, WEB]) await kubectlOk(env, ["create", "namespace", ns]);
    rig = await startSessionsRig(env, id);
    const t0 = Date.now() - 60_000;
    // alice: in shop (web-0) and web (api-0); a WebSocket and a tunnel open in shop.
    rig.index.upsertSession(seen(alice, SHOP, { time: t0, startTime: t0 }));
    rig.index.upsertSession(
      seen(alice, WEB, { time: t0 + 1000, workload: { namespace: WEB, pod: "api-0", kind: "Deployment", name: "api" }, clientIP: "203.0.113.8" }),
    );
    rig.index.upsertFlow({
      sessionId: alice,
      workload: { namespace: SHOP, pod: "web-0" },
      flowId: "1",
      kind: "websocket",
      peer: "203.0.113.7:50000",
      port: 8080,
      bytesIn: 512,
      bytesOut: 2048,
      openedAt: t0 + 2000,
    });
    rig.index.upsertFlow({
      sessionId: alice,
      workload: { namespace: SHOP, pod: "web-0" },
      flowId: "2",
      kind: "tunnel",
      peer: "203.0.113.7:50001",
      port: 5432,
      bytesIn: 100,
      bytesOut: 200,
      openedAt: t0 + 3000,
    });
    rig.index.recordEvent({
      sessionId: alice,
      workload: { namespace: SHOP, pod: "web-0" },
      time: t0 + 2000,
      type: "flow.opened",
      code: "VF001I",
      outcome: "success",
    });
    // bob: contractors, in shop only.
    rig.index.upsertSession(
      seen(bob, SHOP, {
        identity: { issuer: "https://login.example.test/", subject: "bob", groups: ["contractors"] },
        clientIP: "198.51.100.20",
        userAgent: "Mozilla/5.0 (X11)",
      }),
    );
    // carol: in shop, already ended.
    rig.index.upsertSession(
      seen(carol, SHOP, { identity: { issuer: "https://login.example.test/", subject: "carol", email: "carol@example.test", groups: ["engineers"] } }),
    );
    rig.index.endSession({ sessionId: carol, time: Date.now(), reason: "IdleTimeout", detail: "no request for 15m" });
  }, 180_000);

  afterAll(async () => {
    await rig.stop();
    for (const ns of [SHOP, WEB]) await kubectl(env, ["delete", "namespace", ns, "--wait=false"]);
  }, 120_000);

  describe("discovery and schema", () => {
    it("lists vigilsessions in kubectl api-resources with its short name, kind and scope, and in the vigil category", async () => {
      const out = await kubectlOk(env, ["api-resources", "--api-group=sessions.vigil.dev", "--no-headers"]);
      expect(out.trim().split(/\s+/)).toEqual(["vigilsessions", "vs", "sessions.vigil.dev/v1alpha1", "true", "VigilSession"]);
      const verbs = await kubectlOk(env, ["api-resources", "--api-group=sessions.vigil.dev", "-o", "wide", "--no-headers"]);
      expect(verbs.trim().split(/\s+/).slice(5)).toEqual(["delete,get,list,watch", "vigil"]);
      const byCategory = await kubectlOk(env, ["get", "vigil", "-n", SHOP, "-o", "name"]);
      expect(byCategory).toContain(`vigilsession.sessions.vigil.dev/${alice}`);
    });

    it("serves the group and version documents through the aggregator", async () => {
      const group = JSON.parse(await kubectlOk(env, ["get", "--raw", "/apis/sessions.vigil.dev"])) as {
        name: string;
        preferredVersion: { groupVersion: string };
      };
      expect(group).toMatchObject({ kind: "APIGroup", name: "sessions.vigil.dev", preferredVersion: { groupVersion: "sessions.vigil.dev/v1alpha1" } });
      const resources = JSON.parse(await kubectlOk(env, ["get", "--raw", "/apis/sessions.vigil.dev/v1alpha1"])) as {
        resources: { name: string; shortNames: string[]; categories: string[] }[];
      };
      expect(resources.resources).toEqual([
        expect.objectContaining({ name: "vigilsessions", namespaced: true, kind: "VigilSession", shortNames: ["vs"], categories: ["vigil"] }),
      ]);
    });

    it("explains vigilsession and its fields from the OpenAPI v3 schema", async () => {
      const top = await kubectlOk(env, ["explain", "vigilsession"]);
      expect(top).toMatch(/KIND:\s+VigilSession/);
      expect(top).toMatch(/GROUP:\s+sessions\.vigil\.dev/);
      expect(top).toContain("one login of one identity");
      for (const field of ["identity", "flows", "workloads", "endReason", "stale", "terminationRequested"]) expect(top).toContain(field);
      const flows = await kubectlOk(env, ["explain", "vigilsession.flows"]);
      expect(flows).toContain("websocket or tunnel");
      expect(flows).toContain("bytesOut");
    });
  });

  describe("reading sessions", () => {
    it("prints the server-side table with kubectl get -n (ID, USER, WORKLOADS, CLIENT, STATE, FLOWS, AGE, LAST ACTIVE)", async () => {
      const rows = tableRows(await get(["vigilsessions"], SHOP));
      expect(Object.keys(rows[0] ?? {})).toEqual(["ID", "USER", "WORKLOADS", "CLIENT", "STATE", "FLOWS", "AGE", "LAST ACTIVE"]);
      const byId = new Map(rows.map((r) => [r["ID"], r]));
      expect(byId.get(alice)).toMatchObject({ USER: "alice@example.test", WORKLOADS: "web", CLIENT: "203.0.113.8", STATE: "Active", FLOWS: "2" });
      expect(byId.get(alice)?.["AGE"]).toMatch(/^\d+[smh]/);
      expect(byId.get(bob)).toMatchObject({ USER: "bob", CLIENT: "198.51.100.20", STATE: "Active", FLOWS: "0" });
      expect(byId.get(carol)).toMatchObject({ USER: "carol@example.test", STATE: "Ended" });
      expect(rows).toHaveLength(3);
    });

    it("adds GROUPS, USER AGENT, FIRST IP and END REASON with -o wide; an ended session shows its end reason", async () => {
      const rows = tableRows(await get(["vs", "-o", "wide"], SHOP));
      expect(Object.keys(rows[0] ?? {})).toEqual([
        "ID",
        "USER",
        "WORKLOADS",
        "CLIENT",
        "STATE",
        "FLOWS",
        "AGE",
        "LAST ACTIVE",
        "GROUPS",
        "USER AGENT",
        "FIRST IP",
        "END REASON",
      ]);
      const byId = new Map(rows.map((r) => [r["ID"], r]));
      expect(byId.get(alice)).toMatchObject({ GROUPS: "engineers,oncall", "USER AGENT": "curl/8.5.0", "FIRST IP": "203.0.113.7", "END REASON": "<none>" });
      expect(byId.get(bob)).toMatchObject({ "USER AGENT": "Mozilla/5.0 (X11)" });
      expect(byId.get(carol)).toMatchObject({ STATE: "Ended", "END REASON": "IdleTimeout: no request for 15m" });
    });

    it("shows the whole object with -o yaml/json: identity and claims, client, flows with bytes, workloads, events, admitting rule", async () => {
      const s = await kubectlJson<VigilSession>(env, ["get", "vigilsession", alice], { namespace: SHOP });
      expect(s).toMatchObject({
        apiVersion: "sessions.vigil.dev/v1alpha1",
        kind: "VigilSession",
        metadata: { name: alice, namespace: SHOP },
        identity: {
          issuer: "https://login.example.test/",
          subject: "alice",
          email: "alice@example.test",
          groups: ["engineers", "oncall"],
          claims: { team: "payments" },
        },
        state: "Active",
        stale: false,
        firstIP: "203.0.113.7",
        lastIP: "203.0.113.8",
        userAgent: "curl/8.5.0",
        workloads: [{ kind: "Deployment", name: "web", pod: "web-0" }],
        admittedBy: [{ policy: "shop-access", rule: "engineers" }],
        recentEvents: [{ type: "flow.opened", code: "VF001I", outcome: "success", pod: "web-0" }],
      });
      expect(s.flows.map((f) => [f.kind, f.port, f.bytesIn, f.bytesOut])).toEqual([
        ["websocket", 8080, 512, 2048],
        ["tunnel", 5432, 100, 200],
      ]);
      expect(s.endTime).toBeUndefined();
      const yaml = await get(["vs", alice, "-o", "yaml"], SHOP);
      expect(yaml).toContain("kind: VigilSession");
      expect(yaml).toContain("peer: 203.0.113.7:50000");
      // The same session in web shows only web's part.
      const inWeb = await kubectlJson<VigilSession>(env, ["get", "vs", alice], { namespace: WEB });
      expect(inWeb.workloads.map((w) => w.pod)).toEqual(["api-0"]);
      expect(inWeb.flows).toEqual([]);
      expect(inWeb.metadata.uid).not.toBe(s.metadata.uid);
    });

    it("lists each session once per namespace it touched with -A", async () => {
      const rows = tableRows(await get(["vigilsessions", "-A"]));
      const mine = rows.filter((r) => r["NAMESPACE"] === SHOP || r["NAMESPACE"] === WEB).map((r) => `${r["NAMESPACE"]}/${r["ID"]}`);
      expect(mine.sort()).toEqual([`${SHOP}/${alice}`, `${SHOP}/${bob}`, `${SHOP}/${carol}`, `${WEB}/${alice}`].sort());
    });

    it("pages with --chunk-size: several requests with limit and continue, every object exactly once", async () => {
      const out = await kubectl(env, [
        "get",
        "vigilsessions",
        "-A",
        "--chunk-size=2",
        "-o",
        "custom-columns=NS:.metadata.namespace,ID:.metadata.name",
        "--no-headers",
        "-v=6",
      ]);
      expect(out.code).toBe(0);
      const pages = out.stderr.split("\n").filter((l) => l.includes("/apis/sessions.vigil.dev/v1alpha1/vigilsessions?") && l.includes("limit=2"));
      expect(pages.length).toBeGreaterThanOrEqual(2);
      expect(pages.some((l) => l.includes("continue="))).toBe(true);
      const names = out.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/).join("/"));
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => n.endsWith(alice)).sort()).toEqual([`${SHOP}/${alice}`, `${WEB}/${alice}`]);
      expect(names.length).toBe(rig.index.count(""));
    });

    it("filters with --field-selector on user, email, group, workload, state and client IP", async () => {
      const ids = async (selector: string, namespace = SHOP): Promise<string[]> =>
        (await get(["vs", "--field-selector", selector, "-o", "name"], namespace))
          .trim()
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => l.split("/")[1] ?? "")
          .sort();
      expect(await ids("user=bob")).toEqual([bob]);
      expect(await ids("user=alice@example.test")).toEqual([alice]);
      expect(await ids("email=CAROL@example.test")).toEqual([carol]);
      expect(await ids("group=engineers")).toEqual([alice, carol].sort());
      expect(await ids("group!=engineers")).toEqual([bob]);
      expect(await ids("workload=web")).toEqual([alice, bob, carol].sort());
      expect(await ids("workload=api", WEB)).toEqual([alice]);
      expect(await ids("state=Ended")).toEqual([carol]);
      expect(await ids("state=Active,group=engineers")).toEqual([alice]);
      expect(await ids("clientIP=198.51.100.20")).toEqual([bob]);
      expect(await ids("clientIP=203.0.113.7")).toEqual([alice, bob, carol].filter((s) => s !== bob).sort());
      expect(await ids(`metadata.name=${bob}`)).toEqual([bob]);
    });

    it("answers bad input with a clear Status: unknown field, bad state, label selector, unknown session, bad continue", async () => {
      const bad = await kubectl(env, ["get", "vs", "--field-selector", "spec.nodeName=x"], { namespace: SHOP });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('field label not supported: "spec.nodeName"');
      expect(bad.stderr).toContain("user, email, group, workload, state, clientIP");
      const state = await kubectl(env, ["get", "vs", "--field-selector", "state=Running"], { namespace: SHOP });
      expect(state.stderr).toContain("state must be one of Active, Idle, Ended");
      const labels = await kubectl(env, ["get", "vs", "-l", "app=web"], { namespace: SHOP });
      expect(labels.stderr).toContain("vigilsessions have no labels");
      const missing = await kubectl(env, ["get", "vs", newSessionId()], { namespace: SHOP });
      expect(missing.stderr).toMatch(/Error from server \(NotFound\): vigilsessions\.sessions\.vigil\.dev "s_[^"]+" not found/);
      const token = await kubectl(env, ["get", "--raw", `/apis/sessions.vigil.dev/v1alpha1/namespaces/${SHOP}/vigilsessions?limit=1&continue=bm90LWEtdG9rZW4`]);
      expect(token.stderr).toContain("invalid continue token");
      const exact = await kubectl(env, ["get", "--raw", `/apis/sessions.vigil.dev/v1alpha1/vigilsessions?resourceVersion=1&resourceVersionMatch=Exact`]);
      expect(exact.stderr).toMatch(/too old resource version|Expired|410/);
    });

    it("refuses a watch from a resource version this server never issued with ERROR 410 Expired", async () => {
      const out = await kubectlOk(env, ["get", "--raw", `/apis/sessions.vigil.dev/v1alpha1/namespaces/${SHOP}/vigilsessions?watch=1&resourceVersion=1`]);
      const event = JSON.parse(out.trim().split("\n")[0] ?? "{}") as { type: string; object: { code: number; reason: string } };
      expect(event).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    });
  });

  describe("watching", () => {
    it("streams new sessions and changes to kubectl get -w", async () => {
      const watcher = spawn(env.kubectl, ["get", "vigilsessions", "-n", SHOP, "-w", `--cache-dir=${join(env.dir, "kubectl-cache")}`], {
        env: { ...process.env, KUBECONFIG: env.kubeconfig },
      });
      let out = "";
      watcher.stdout.on("data", (d: Buffer) => (out += d.toString()));
      watcher.stderr.on("data", (d: Buffer) => (out += d.toString()));
      try {
        await waitFor(() => {
          expect(out).toContain(bob);
        });
        const dave = newSessionId();
        rig.index.upsertSession(
          seen(dave, SHOP, { identity: { issuer: "https://login.example.test/", subject: "dave", groups: [] }, clientIP: "198.51.100.44" }),
        );
        await waitFor(() => {
          expect(out).toMatch(new RegExp(`${dave}\\s+dave\\s+web\\s+198\\.51\\.100\\.44\\s+Active`));
        });
        rig.index.endSession({ sessionId: dave, time: Date.now(), reason: "Terminated" });
        await waitFor(() => {
          expect(out).toMatch(new RegExp(`${dave}\\s+dave\\s+web\\s+198\\.51\\.100\\.44\\s+Ended`));
        });
        expect(out.match(/^ID\s+USER/gm)).toHaveLength(1); // one header: watch events reuse the list's columns
      } finally {
        watcher.kill("SIGTERM");
      }
    });

    it("sends bookmarks and the initial-events-end marker to watch-list clients", async () => {
      const path = `/apis/sessions.vigil.dev/v1alpha1/namespaces/${WEB}/vigilsessions?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=1`;
      const lines = (await kubectlOk(env, ["get", "--raw", path]))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string; annotations?: Record<string, string> } } });
      expect(lines.map((l) => l.type)).toEqual(["ADDED", "BOOKMARK"]);
      expect(lines[0]?.object.metadata.name).toBe(alice);
      expect(lines[1]?.object.metadata.annotations).toEqual({ "k8s.io/initial-events-end": "true" });
    });
  });

  describe("authorization", () => {
    beforeAll(async () => {
      await kubectlOk(env, ["create", "rolebinding", "jane-admin", "--clusterrole=admin", `--user=${JANE}`], { namespace: SHOP });
      // The chart's aggregated ClusterRoles reach `admin` through the clusterrole-aggregation controller.
      await waitFor(async () => {
        const admin = await kubectlJson<V1ClusterRole>(env, ["get", "clusterrole", "admin"]);
        const rules = (admin.rules ?? []).filter((r) => r.apiGroups?.includes("sessions.vigil.dev"));
        expect(rules.flatMap((r) => r.verbs).sort()).toEqual(["delete", "get", "list", "watch"]);
      });
    });

    it("lets a namespace admin see their namespace's sessions and nothing else (403 elsewhere and across namespaces)", async () => {
      const mine = tableRows(await kubectlOk(env, ["get", "vs", `--as=${JANE}`], { namespace: SHOP }));
      expect(mine.map((r) => r["ID"]).sort()).toContain(alice);
      const other = await kubectl(env, ["get", "vs", `--as=${JANE}`], { namespace: WEB });
      expect(other.code).not.toBe(0);
      expect(other.stderr).toContain(
        `Error from server (Forbidden): vigilsessions.sessions.vigil.dev is forbidden: User "${JANE}" cannot list resource "vigilsessions" in API group "sessions.vigil.dev" in the namespace "${WEB}"`,
      );
      const all = await kubectl(env, ["get", "vs", "-A", `--as=${JANE}`]);
      expect(all.stderr).toContain("at the cluster scope");
      const single = await kubectl(env, ["get", "vs", alice, `--as=${JANE}`], { namespace: WEB });
      expect(single.stderr).toContain("(Forbidden)");
    });
  });

  describe("deleting = terminating", () => {
    it("kubectl delete vigilsession creates a SessionTermination for that session naming the user, and removes it from that namespace", async () => {
      const out = await kubectlOk(env, ["delete", "vigilsession", alice, `--as=${JANE}`, "--timeout=30s"], { namespace: SHOP });
      expect(out).toContain(`vigilsession.sessions.vigil.dev "${alice}" deleted`);
      const termination = await kubectlJson<{ spec: { target: { sessionID: string }; reason: string }; metadata: { annotations: Record<string, string> } }>(
        env,
        ["get", "sessiontermination", terminationName(alice)],
        { namespace: SHOP },
      );
      expect(termination.spec.target).toEqual({ sessionID: alice });
      expect(termination.spec.reason).toBe(`kubectl delete vigilsession by ${JANE}`);
      expect(termination.metadata.annotations["vigil.dev/requested-by"]).toBe(JANE);
      const gone = await kubectl(env, ["get", "vs", alice], { namespace: SHOP });
      expect(gone.stderr).toContain("(NotFound)");
      // Still listed where it was not deleted (until the sidecars report its end).
      expect(tableRows(await get(["vs"], WEB)).map((r) => r["ID"])).toContain(alice);
    });

    it("lets a namespace admin delete an ended session (no termination needed) but not one elsewhere", async () => {
      const out = await kubectlOk(env, ["delete", "vs", carol, `--as=${JANE}`], { namespace: SHOP });
      expect(out).toContain("deleted");
      const noTermination = await kubectl(env, ["get", "sessiontermination", terminationName(carol)], { namespace: SHOP });
      expect(noTermination.stderr).toContain("(NotFound)");
      const refused = await kubectl(env, ["delete", "vs", alice, `--as=${JANE}`], { namespace: WEB });
      expect(refused.stderr).toContain("(Forbidden)");
    });

    it("a dry run changes nothing", async () => {
      const out = await kubectlOk(env, ["delete", "vs", bob, "--dry-run=server"], { namespace: SHOP });
      expect(out).toContain("(server dry run)");
      expect(tableRows(await get(["vs"], SHOP)).map((r) => r["ID"])).toContain(bob);
      const none = await kubectl(env, ["get", "sessiontermination", terminationName(bob)], { namespace: SHOP });
      expect(none.stderr).toContain("(NotFound)");
    });
  });

  describe("stale sidecars", () => {
    it("marks the sessions of a sidecar that stopped heartbeating as stale, and clears it when it is back", async () => {
      rig.index.markSidecarStale({ namespace: SHOP, pod: "web-0" });
      const row = tableRows(await get(["vs"], SHOP)).find((r) => r["ID"] === bob);
      expect(row?.["STATE"]).toBe("Active (stale)");
      const s = await kubectlJson<VigilSession>(env, ["get", "vs", bob], { namespace: SHOP });
      expect(s.stale).toBe(true);
      expect(s.workloads[0]?.stale).toBe(true);
      expect(await get(["vs", "--field-selector", "stale=true", "-o", "name"], SHOP)).toContain(bob);
      rig.index.markSidecarLive({ namespace: SHOP, pod: "web-0" });
      expect((await kubectlJson<VigilSession>(env, ["get", "vs", bob], { namespace: SHOP })).stale).toBe(false);
    });
  });

  describe("least privilege (the API server's audit log)", () => {
    it("the sessions API used every permission its own ClusterRole grants, and the built-in roles bound for it as expected", async () => {
      // Every SubjectAccessReview above was for a distinct (user, verb, namespace, name): none came from the cache alone.
      expect(rig.requests.some((r) => r.verb === "delete" && r.code === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 2000)); // the audit log is written in batches
      const calls = await auditedCalls(env, rig.serviceAccountUser);
      expect(calls.filter((c) => c.unauthorized)).toEqual([]);
      const own = await kubectlJson<V1ClusterRole>(env, ["get", "clusterrole", `${rig.release}-sessions-api`]);
      const granted = expandRules("ClusterRole", own.rules ?? []).map((p) => ({ p }));
      expect(granted.map(({ p }) => describePermission(p)).sort()).toEqual([
        "ClusterRole: create vigil.dev/sessionterminations",
        "ClusterRole: get apiregistration.k8s.io/apiservices [v1alpha1.sessions.vigil.dev]",
        "ClusterRole: patch apiregistration.k8s.io/apiservices [v1alpha1.sessions.vigil.dev]",
      ]);
      expect(unusedPermissions(calls, granted)).toEqual([]);

      // system:auth-delegator: SubjectAccessReviews (TokenReviews unused: only the front proxy is accepted).
      const delegator = await kubectlJson<V1ClusterRole>(env, ["get", "clusterrole", "system:auth-delegator"]);
      const delegated = expandRules("ClusterRole", delegator.rules ?? []).map((p) => ({ p }));
      expect(unusedPermissions(calls, delegated).map(describePermission)).toEqual(["ClusterRole: create authentication.k8s.io/tokenreviews"]);
      // extension-apiserver-authentication-reader: LIST + WATCH of the one ConfigMap (GET unused).
      const reader = await kubectlJson<V1ClusterRole>(env, ["get", "role", "extension-apiserver-authentication-reader"], { namespace: "kube-system" });
      const read = expandRules("Role kube-system", reader.rules ?? []).map((p) => ({ p, namespace: "kube-system" }));
      expect(unusedPermissions(calls, read).map(describePermission)).toEqual(["Role kube-system: get core/configmaps [extension-apiserver-authentication]"]);
    });
  });
});
