/**
 * The sessions API as installed by the chart, on the real control plane: `helm install` (default sessionsApi
 * values), then vigil-operator's sessions API run IN-PROCESS — the real SessionIndex, fed directly by the test —
 * with the environment of the installed Deployment and a token of the chart's ServiceAccount (only the port and
 * host differ, as for local-operator.ts), and the chart's Service routed to it through the harness's egress proxy.
 * The aggregator then reaches it like in a cluster: kubectl → kube-apiserver → front-proxy TLS → this process.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { vi } from "vitest";
import { parseConfig } from "../../../operator/config.ts";
import { createLogger } from "../../../lib/log.ts";
import type { SessionSeen } from "../../../operator/api/sessions/records.ts";
import { SessionIndex } from "../../../operator/sessions-api/index/session-index.ts";
import { runSessionsApi, type RunningSessionsApi } from "../../../operator/sessions-api/run.ts";
import type { RequestRecord } from "../../../operator/sessions-api/server.ts";
import { sessionIndexOptions, sessionsApiSettings } from "../../../operator/sessions-api/settings.ts";
import type { ClusterEnv } from "../../cluster/env.ts";
import { routeService } from "../../cluster/service-route.ts";
import { chartDir, helm, helmOk, objectsOf } from "../chart/helm.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { localOperatorConfig, type LocalOperatorConfig } from "../e2e/local-operator.ts";

export const newSessionId = (): string => `s_${randomBytes(16).toString("base64url")}`;

export interface SessionsRig {
  release: string;
  system: string;
  serviceAccountUser: string;
  operator: LocalOperatorConfig;
  index: SessionIndex;
  api: RunningSessionsApi;
  /** Requests the sessions API finished (verb, code), in order. */
  requests: RequestRecord[];
  stop(): Promise<void>;
}

export async function startSessionsRig(env: ClusterEnv, id: string): Promise<SessionsRig> {
  const release = `vigil-sessions-${id}`;
  const system = `vigil-sessions-system-${id}`;
  const dir = await mkdtemp(join(tmpdir(), "vigil-sessions-"));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const values = { redis: { mode: "external", external: { url: env.redisUrl } }, bus: { prefix: `${release}:` } };
    await writeFile(join(dir, "values.json"), JSON.stringify(values));
    cleanups.push(async () => {
      await helm(env, ["uninstall", release, "-n", system, "--timeout", "60s"]);
      await kubectl(env, ["delete", "namespace", system, "--wait=false"]);
    });
    await helmOk(
      env,
      ["install", release, chartDir, "-n", system, "--create-namespace", "--take-ownership", "-f", join(dir, "values.json"), "--timeout", "60s"],
      90_000,
    );
    const manifest = objectsOf(await helmOk(env, ["get", "manifest", release, "-n", system]));
    const deployment = manifest.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-operator"));
    if (deployment === undefined) throw new Error("the chart rendered no operator Deployment");

    const operator = await localOperatorConfig(env, system, deployment.metadata.name, dir);
    const config = parseConfig({ argv: [], env: operator.env, hostname: "vigil-operator-local" });
    const kc = new KubeConfig();
    kc.loadFromFile(operator.env["KUBECONFIG"] ?? "");
    const index = new SessionIndex(sessionIndexOptions(config));
    const requests: RequestRecord[] = [];
    const log = createLogger({ name: "vigil-operator", level: process.env["VIGIL_TEST_LOG"] ?? "warn" });
    const api = await runSessionsApi(kc, { ...sessionsApiSettings(config), observe: (r) => requests.push(r) }, index, log, new Registry());
    cleanups.push(() => api.stop());

    const unroute = await routeService(env, { namespace: system, name: config.webhookServiceName, port: 8443 }, api.server.port);
    cleanups.push(unroute);
    await waitForAvailable(env);
    return { release, system, serviceAccountUser: `system:serviceaccount:${system}:${operator.serviceAccount}`, operator, index, api, requests, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface ApiServiceStatus {
  spec: { caBundle?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * The aggregator's availability check passed (discovery through the Service, with the caBundle the operator set),
 * and its OpenAPI v3 index lists the group-version (downloaded from this server in the background).
 */
export async function waitForAvailable(env: ClusterEnv): Promise<void> {
  await vi.waitFor(
    async () => {
      const s = await kubectlJson<ApiServiceStatus>(env, ["get", "apiservice", "v1alpha1.sessions.vigil.dev"]);
      const available = s.status?.conditions?.find((c) => c.type === "Available");
      if (available?.status !== "True") throw new Error(`APIService not available: ${JSON.stringify(available)}`);
      const openapi = await kubectlOk(env, ["get", "--raw", "/openapi/v3"]);
      if (!openapi.includes('"apis/sessions.vigil.dev/v1alpha1"')) throw new Error("OpenAPI v3 index does not list sessions.vigil.dev/v1alpha1 yet");
    },
    { timeout: 60_000, interval: 250 },
  );
}

/** A session-seen record (alice, engineers, through pod web-0 of Deployment web), with overrides. */
export function seen(sessionId: string, namespace: string, over: Partial<SessionSeen> = {}): SessionSeen {
  return {
    sessionId,
    identity: {
      issuer: "https://login.example.test/",
      subject: "alice",
      email: "alice@example.test",
      groups: ["engineers", "oncall"],
      claims: { team: "payments" },
    },
    workload: { namespace, pod: "web-0", kind: "Deployment", name: "web" },
    clientIP: "203.0.113.7",
    userAgent: "curl/8.5.0",
    time: Date.now(),
    admittedBy: { policy: "shop-access", rule: "engineers" },
    requests: 1,
    ...over,
  };
}

/** Rows of a kubectl table whose column names may contain single spaces (`LAST ACTIVE`). */
export function tableRows(text: string): Record<string, string>[] {
  const [header = "", ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  return lines.map((line) => Object.fromEntries(starts.map((c, i) => [c.name, line.slice(c.at, starts[i + 1]?.at ?? line.length).trim()])));
}
