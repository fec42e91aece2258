/**
 * End to end on the real control plane: the vigil chart installed with `helm install` into the harness's API
 * server; vigil-operator run as a local process with the container env of the installed Deployment and a token of
 * the chart's own ServiceAccount; the chart's MutatingWebhookConfiguration pointed at that process. Then:
 *   - injection through the real path: a Deployment in the opted-in namespace → kube-controller-manager creates
 *     its Pod → the API server calls the webhook → the stored Pod carries the native sidecar (golden file
 *     test/golden/e2e/sidecar-container.yaml, REFRESH_GOLDEN=1 rewrites it); a non-labelled namespace is untouched;
 *     with the operator stopped an opted-in pod is refused with the webhook named, kube-system is unaffected;
 *   - the journey: the injected sidecar runs as a local process with the configuration the injection produced, in
 *     front of a local application; `kubectl apply` an AccessPolicy, allowed 200 / denied 403, a WebSocket and a
 *     CONNECT tunnel, `kubectl create` a SessionTermination → both connections reset, the session refused (401
 *     SESSION_REVOKED), `kubectl get sessionterminations` shows Completed with sessions and connections counted;
 *   - least privilege: the audit log shows no refused call by the operator's ServiceAccount, and every permission
 *     the chart grants was used by the operator during the run.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { V1ClusterRole, V1Pod, V1Role } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { auditedCalls } from "../../cluster/audit.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { chartDir, helm, helmOk, objectsOf, type K8sObject } from "../chart/helm.ts";
import {
  AUDIENCE,
  createIssuer,
  echo,
  ISSUER,
  openTunnel,
  startEchoServer,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type UpstreamApp,
} from "../sidecar/proxy-harness.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { injectedSidecar, startInjectedSidecar, type LocalSidecar } from "./local-sidecar.ts";
import { localOperatorConfig, type LocalOperatorConfig } from "./local-operator.ts";
import { startLocalProcess, type LocalProcess } from "../support/local-process.ts";
import { describePermission, expandRules, unusedPermissions } from "./rbac-usage.ts";

const GOLDEN = join(import.meta.dirname, "../../golden/e2e/sidecar-container.yaml");
const refresh = process.env["REFRESH_GOLDEN"] === "1";

const id = randomBytes(3).toString("hex");
const RELEASE = `vigil-e2e-${id}`; // contains "vigil": object names are "<release>-…"
const SYSTEM = `vigil-e2e-system-${id}`;
const APPS = `journey-${id}`;
const PLAIN = `journey-plain-${id}`;
const PREFIX = `vigil-e2e-${id}:`;
const NAMESPACE_ENTRY = "namespaces.sidecar-injector.vigil.dev";

interface PolicyStatus {
  conditions?: { type: string; status: string }[];
  selectedSidecars?: number;
  enforcingSidecars?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const waitFor = <T>(fn: () => Promise<T> | T, timeout = 30_000, interval = 250): Promise<T> => vi.waitFor(fn, { timeout, interval });

const deployment = (name: string, port: number): string => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: app
          image: example/${name}:1
          ports: [{containerPort: ${port}}]
`;

const barePod = (name: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: app
      image: example/app:1
      ports: [{containerPort: 8080}]
`;

/** The sidecar container with what differs between runs replaced by stable placeholders. */
const normaliseSidecar = (pod: V1Pod, redisUrl: string): unknown =>
  JSON.parse(
    JSON.stringify(injectedSidecar(pod))
      .replaceAll(PREFIX, "<bus-prefix>")
      .replaceAll(RELEASE, "<release>")
      .replaceAll(redisUrl, "<harness-redis-url>")
      .replace(/kube-api-access-[a-z0-9]{5}/g, "kube-api-access-XXXXX"),
  ) as unknown;

/** Rows of a kubectl table (columns split at the header's column starts). */
function tableRows(text: string): Record<string, string>[] {
  const [header = "", ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return lines.map((line) => Object.fromEntries(starts.map((c, i) => [c.name, line.slice(c.at, starts[i + 1]?.at ?? line.length).trim()])));
}

async function tcpReachable(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/**
 * Granted and needed, but only on a path the journey cannot trigger deterministically: re-reading the object after
 * a write conflict (operator/kube/guarded-patch.ts; every normal write starts from the informer's copy). Some runs
 * hit such a conflict, some do not.
 */
const CONFLICT_PATH_ONLY = ["ClusterRole: get vigil.dev/accesspolicies", "ClusterRole: get vigil.dev/sessionterminations"];

describe("end to end on the real control plane", () => {
  let env: ClusterEnv;
  let dir: string;
  let issuer: Issuer;
  let app: UpstreamApp;
  let echoServer: EchoServer;
  let manifest: K8sObject[];
  let opConfig: LocalOperatorConfig;
  let operator: LocalProcess | undefined;
  let sidecar: LocalSidecar | undefined;
  let journeyPod: V1Pod;
  let installed = false;
  const terminationName = `end-alice-${id}`;

  const named = (kind: string, suffix = ""): K8sObject => {
    const found = manifest.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
    if (found === undefined) throw new Error(`the chart rendered no ${kind}`);
    return found;
  };
  const firstPod = (namespace: string, app: string): Promise<V1Pod> =>
    waitFor(async () => {
      const pods = await kubectlJson<{ items: V1Pod[] }>(env, ["get", "pods", "-l", `app=${app}`], { namespace });
      const pod = pods.items[0];
      if (pod === undefined) throw new Error(`no pod of ${namespace}/${app} yet`);
      return pod;
    });

  const startOperator = async (): Promise<void> => {
    operator = startLocalProcess("operator/main.ts", opConfig.env);
    const proc = operator;
    await waitFor(async () => {
      if (!proc.running()) throw new Error(`operator exited:\n${proc.output()}`);
      const ready = await fetch(`http://127.0.0.1:${opConfig.adminPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready || !(await tcpReachable(opConfig.webhookPort))) throw new Error(`operator not ready:\n${proc.output().slice(-2000)}`);
    });
  };

  beforeAll(async () => {
    env = clusterEnv();
    dir = await mkdtemp(join(tmpdir(), "vigil-e2e-"));
    [issuer, app, echoServer] = await Promise.all([createIssuer(), startUpstreamApp(), startEchoServer()]);
    await kubectlOk(env, ["create", "namespace", APPS]);
    await kubectlOk(env, ["label", "namespace", APPS, "vigil.dev/injection=enabled"]);
    await kubectlOk(env, ["create", "namespace", PLAIN]);

    const values = {
      bus: { prefix: PREFIX },
      redis: { mode: "external", external: { url: env.redisUrl } },
      injection: { namespaces: [APPS] },
      sidecar: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: issuer.jwks }] },
    };
    await writeFile(join(dir, "values.json"), JSON.stringify(values));
    // --take-ownership: other test files apply the CRDs with kubectl too.
    await helmOk(
      env,
      ["install", RELEASE, chartDir, "-n", SYSTEM, "--create-namespace", "--take-ownership", "-f", join(dir, "values.json"), "--timeout", "60s"],
      90_000,
    );
    installed = true;
    manifest = objectsOf(await helmOk(env, ["get", "manifest", RELEASE, "-n", SYSTEM]));

    opConfig = await localOperatorConfig(env, SYSTEM, named("Deployment", "-operator").metadata.name, dir);
    await startOperator();

    // The operator fills in the caBundle (mode self); then both entries are pointed at the local process.
    const webhookName = named("MutatingWebhookConfiguration").metadata.name;
    const caBundle = await waitFor(async () => {
      const mwc = await kubectlJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(env, ["get", "mutatingwebhookconfiguration", webhookName]);
      const bundles = mwc.webhooks.map((w) => w.clientConfig.caBundle ?? "");
      if (bundles.some((b) => b === "")) throw new Error("caBundle not set yet");
      return bundles[0] ?? "";
    });
    const url = `https://127.0.0.1:${opConfig.webhookPort}/mutate-pods`;
    const patch = [0, 1].map((i) => ({ op: "replace", path: `/webhooks/${i}/clientConfig`, value: { url, caBundle } }));
    await kubectlOk(env, ["patch", "mutatingwebhookconfiguration", webhookName, "--type=json", "-p", JSON.stringify(patch)]);

    for (const ns of [APPS, PLAIN]) await waitFor(() => kubectlOk(env, ["get", "serviceaccount", "default"], { namespace: ns }));
  }, 120_000);

  afterAll(async () => {
    await sidecar?.stop();
    // The policy carries the operator's finalizer: delete it while the operator runs, so the namespace can go.
    await kubectl(env, ["delete", "accesspolicies.vigil.dev", "--all", "--timeout=15s"], { namespace: APPS });
    await operator?.stop();
    await Promise.all([app.close(), echoServer.close()]);
    if (installed) await helm(env, ["uninstall", RELEASE, "-n", SYSTEM, "--timeout", "60s"]);
    for (const ns of [APPS, PLAIN, SYSTEM]) await kubectl(env, ["delete", "namespace", ns, "--wait=false"]);
    await rm(dir, { recursive: true, force: true });
  }, 90_000);

  describe("injection through the real admission path", () => {
    it("injects the native sidecar into the pod kube-controller-manager creates for a Deployment in an opted-in namespace", async () => {
      await kubectlOk(env, ["apply", "-f", "-"], { namespace: APPS, input: deployment("shop", 8080) });
      journeyPod = await firstPod(APPS, "shop");
      expect(journeyPod.metadata?.annotations?.["vigil.dev/injection-status"]).toBe("injected");
      const sidecarContainer = injectedSidecar(journeyPod);
      expect(sidecarContainer.restartPolicy).toBe("Always");

      const actual = normaliseSidecar(journeyPod, env.redisUrl);
      if (refresh) {
        mkdirSync(join(GOLDEN, ".."), { recursive: true });
        writeFileSync(
          GOLDEN,
          `# GENERATED by REFRESH_GOLDEN=1 (test/integration/e2e/journey.test.ts): the injected sidecar as stored.\n${stringify(actual, { lineWidth: 0 })}`,
        );
      }
      if (!existsSync(GOLDEN)) throw new Error(`${GOLDEN} is missing: run with REFRESH_GOLDEN=1 to create it`);
      expect(actual).toEqual(parse(readFileSync(GOLDEN, "utf8")));
    });

    it("leaves the pod of a Deployment in a namespace that is not opted in untouched", async () => {
      await kubectlOk(env, ["apply", "-f", "-"], { namespace: PLAIN, input: deployment("bystander", 8080) });
      const pod = await firstPod(PLAIN, "bystander");
      expect(pod.spec?.initContainers).toBeUndefined();
      expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBeUndefined();
    });

    it("refuses an opted-in pod while the operator is down, naming the webhook; kube-system is unaffected", { timeout: 60_000 }, async () => {
      expect(await operator?.stop()).toBe(0);
      const refused = await kubectl(env, ["create", "-f", "-"], { namespace: APPS, input: barePod(`while-down-${id}`) });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`failed calling webhook "${NAMESPACE_ENTRY}"`);
      expect(refused.stderr).toContain("connection refused");

      const system = await kubectl(env, ["create", "-f", "-"], { namespace: "kube-system", input: barePod(`vigil-e2e-probe-${id}`) });
      expect(system.stderr).toBe("");
      expect(system.code).toBe(0);
      await kubectl(env, ["delete", "pod", `vigil-e2e-probe-${id}`, "--wait=false"], { namespace: "kube-system" });

      // While it is down the webhook CA's key goes missing from the Secret: the restarted operator (the same
      // environment, for the journey) renews the CA and the serving certificate and re-patches the caBundle (only
      // the caBundle: the url pointing at this process stays).
      const secretName = opConfig.env["VIGIL_WEBHOOK_TLS_SECRET"] ?? "";
      await kubectlOk(env, ["patch", "secret", secretName, "--type=json", "-p", '[{"op":"remove","path":"/data/ca.key"}]'], { namespace: SYSTEM });
      await startOperator();
      const repaired = await kubectlJson<{ data: Record<string, string> }>(env, ["get", "secret", secretName], { namespace: SYSTEM });
      expect(Buffer.from(repaired.data["ca.key"] ?? "", "base64").toString()).toContain("PRIVATE KEY-----");
      const injected = await kubectlJson<V1Pod>(env, ["create", "-f", "-"], { namespace: APPS, input: barePod(`after-restart-${id}`) });
      expect(injected.metadata?.annotations?.["vigil.dev/injection-status"]).toBe("injected");
    });
  });

  describe("the journey", () => {
    let alice: string;
    let bob: string;
    const url = (path: string): string => `http://127.0.0.1:${sidecar?.port ?? 0}${path}`;
    const get = (path: string, token: string): Promise<Response> => fetch(url(path), { headers: { authorization: `Bearer ${token}` } });

    beforeAll(async () => {
      alice = await issuer.token({ sub: "alice", sid: `s-${randomBytes(8).toString("hex")}`, groups: ["engineers"] });
      bob = await issuer.token({ sub: "bob", sid: `s-${randomBytes(8).toString("hex")}`, groups: ["sales"] });
      sidecar = await startInjectedSidecar(env, journeyPod, app.port);
      await sidecar.waitReady();
    });

    it("applies an AccessPolicy with kubectl: Accepted and Ready; an allowed user gets 200, a denied user 403", async () => {
      const policy = `
apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: shop-access
spec:
  selector:
    matchLabels: {app: shop}
  rules:
    - name: engineers
      action: Allow
      identities: [{group: engineers}]
      requests:
        - methods: [GET]
          paths: ["*"]
        - methods: [CONNECT]
          ports: [${echoServer.port}]
`;
      await kubectlOk(env, ["apply", "-f", "-"], { namespace: APPS, input: policy });
      await waitFor(async () => {
        const p = await kubectlJson<{ status?: PolicyStatus }>(env, ["get", "accesspolicy", "shop-access"], { namespace: APPS });
        const status = (t: string): string | undefined => p.status?.conditions?.find((c) => c.type === t)?.status;
        if (status("Accepted") !== "True" || status("Ready") !== "True") throw new Error(`not ready: ${JSON.stringify(p.status)}`);
        // The one selected sidecar (our local process, through its heartbeats) enforces this revision.
        if (p.status?.selectedSidecars !== 1 || p.status.enforcingSidecars !== 1) throw new Error(`not enforced: ${JSON.stringify(p.status)}`);
      });

      const allowed = await waitFor(async () => {
        const r = await get("/orders", alice);
        if (r.status !== 200) throw new Error(`alice got ${r.status}`);
        return r;
      }, 10_000);
      expect(await allowed.json()).toEqual({ ok: true });

      const denied = await get("/orders", bob);
      expect(denied.status).toBe(403);
      expect(denied.headers.get("content-type")).toContain("application/json");
      expect(await denied.json()).toMatchObject({ code: expect.any(String) as unknown });
    });

    it("ends the user's WebSocket and CONNECT tunnel with kubectl create sessiontermination; the session is refused afterwards", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar?.port ?? 0}/ws`, { headers: { authorization: `Bearer ${alice}` } });
      ws.on("error", () => undefined);
      await once(ws, "open");
      ws.send("hello");
      const [reply] = (await once(ws, "message")) as [Buffer];
      expect(reply.toString()).toBe("hello");
      const tunnel: Socket = await openTunnel(sidecar?.port ?? 0, echoServer.port, alice);
      expect(await echo(tunnel, "ping")).toBe("ping");

      const closedAt: Record<string, number> = {};
      ws.on("close", () => (closedAt["ws"] = performance.now()));
      tunnel.on("close", () => (closedAt["tunnel"] = performance.now()));

      const termination = `
apiVersion: vigil.dev/v1alpha1
kind: SessionTermination
metadata:
  name: ${terminationName}
spec:
  target: {subject: alice}
  reason: e2e journey
  revokeFor: 8s
  ttlSecondsAfterFinished: 6
`;
      const invoked = performance.now();
      await kubectlOk(env, ["create", "-f", "-"], { namespace: APPS, input: termination });
      const created = performance.now();
      await waitFor(
        () => {
          if (closedAt["ws"] === undefined || closedAt["tunnel"] === undefined) throw new Error(`not reset yet: ${JSON.stringify(closedAt)}`);
        },
        15_000,
        10,
      );
      const lastReset = Math.max(closedAt["ws"] ?? 0, closedAt["tunnel"] ?? 0);
      // Negative when both resets land before the kubectl process has even exited.
      console.log(`journey: create → last reset ${Math.round(lastReset - created)} ms (${Math.round(lastReset - invoked)} ms from invoking kubectl create)`);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
      expect(tunnel.destroyed).toBe(true);

      const after = await get("/orders", alice);
      expect(after.status).toBe(401);
      expect(await after.json()).toMatchObject({ code: "SESSION_REVOKED" });
    });

    it("shows the termination Completed with the sessions and connections counted in kubectl get", async () => {
      const row = await waitFor(
        async () => {
          const out = await kubectlOk(env, ["get", "sessionterminations"], { namespace: APPS });
          const found = tableRows(out).find((r) => r["NAME"] === terminationName);
          if (found?.["PHASE"] !== "Completed") throw new Error(`not completed yet:\n${out}`);
          return found;
        },
        20_000,
        100,
      );
      expect(Number(row["SESSIONS"])).toBeGreaterThanOrEqual(1);
      expect(Number(row["CONNECTIONS"])).toBeGreaterThanOrEqual(2);
      expect(row["ACKED"]).toBe("1"); // the one live sidecar of the namespace (EXPECTED is an -o wide column)
    });
  });

  describe("least privilege (the API server's audit log)", () => {
    it("the operator's ServiceAccount was never refused, and used every permission the chart grants it", async () => {
      // ttlSecondsAfterFinished: the operator deletes the finished termination once its revocation (revokeFor 8s)
      // expired (the `delete` it is granted).
      await waitFor(async () => {
        const r = await kubectl(env, ["get", "sessiontermination", terminationName, "--ignore-not-found", "-o", "name"], { namespace: APPS });
        if (r.stdout.trim() !== "") throw new Error("termination not deleted yet");
      }, 20_000);
      await sleep(2_000); // the audit log is written in batches

      const user = `system:serviceaccount:${SYSTEM}:${opConfig.serviceAccount}`;
      const calls = await auditedCalls(env, user);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.filter((c) => c.unauthorized)).toEqual([]);

      const clusterRole = await kubectlJson<V1ClusterRole>(env, ["get", "clusterrole", named("ClusterRole", "-operator").metadata.name]);
      const role = await kubectlJson<V1Role>(env, ["get", "role", named("Role").metadata.name], { namespace: SYSTEM });
      const granted = [
        ...expandRules("ClusterRole", clusterRole.rules ?? []).map((p) => ({ p })),
        ...expandRules(`Role ${SYSTEM}`, role.rules ?? []).map((p) => ({ p, namespace: SYSTEM })),
      ];
      expect(granted.length).toBeGreaterThan(10);
      const unused = unusedPermissions(calls, granted).map((p) => describePermission(p).replaceAll(SYSTEM, "<system>").replaceAll(RELEASE, "<release>"));
      // Every permission was used, except those only a write conflict needs (used in some runs).
      expect(unused.filter((u) => !CONFLICT_PATH_ONLY.includes(u))).toEqual([]);
    });
  });
});
