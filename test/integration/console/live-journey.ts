/**
 * A live journey for the plugin's and the console's tests, on the real control plane, with real parts only: the
 * chart installed and vigil-operator run as a local process with the chart's environment and ServiceAccount
 * (controllers, injection webhook, audit ingest, and the sessions API that the aggregation layer is routed to:
 * ../sessions-api/live-operator.ts); a Deployment whose Pod the webhook injects; that injected sidecar run as a real
 * process in front of a plain application (HTTP and an echoing WebSocket, no knowledge of Vigil); an AccessPolicy
 * letting the engineers in. Users make real requests and open real WebSockets through the sidecar with real tokens;
 * the sidecar reports sessions and flows as sealed audit batches on `P audit`, the operator ingests them into its
 * SessionIndex, and the tests read sessions only through the API (kubectl, `kubectl vigil`, the console). A
 * SessionTermination is carried out by the real operator and sidecar and reaches Completed with real counts; the
 * sidecar reports the reset flows and the session's end.
 *
 * Plain requests go on connections of their own that close after the answer: a keep-alive socket that lives a
 * second becomes a reported flow of its own (sidecar/sessions/connections.ts), which would make the flow counts of
 * the tests depend on the HTTP client's pooling.
 */
import { once } from "node:events";
import { request, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { V1Pod } from "@kubernetes/client-node";
import { vi } from "vitest";
import WebSocket from "ws";
import type { VigilSession } from "../../../operator/api/sessions/v1alpha1.ts";
import type { ClusterEnv } from "../../cluster/env.ts";
import { startLiveOperator, type LiveOperator } from "../sessions-api/live-operator.ts";
import { AUDIENCE, createIssuer, ISSUER, startUpstreamApp, type Issuer } from "../sidecar/proxy-harness.ts";
import { startInjectedSidecar, type LocalSidecar } from "../e2e/local-sidecar.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";

const waitFor = <T>(fn: () => Promise<T> | T, timeout = 30_000, interval = 200): Promise<T> => vi.waitFor(fn, { timeout, interval });

/** Fast audit reporting (activity with the admitting rule, flow byte counters), so that the tests wait seconds. */
const SIDECAR_AUDIT = { VIGIL_AUDIT_ACTIVITY_MS: "500", VIGIL_AUDIT_FLOW_PROGRESS_MS: "300" };

export interface JourneyUser {
  subject: string;
  email: string;
  token: string;
}

export interface LiveJourney {
  env: ClusterEnv;
  namespace: string;
  operator: LiveOperator;
  sidecar: LocalSidecar;
  pod: string;
  issuer: Issuer;
  users: Record<"alice" | "bob", JourneyUser>;
  /** A request through the sidecar as `user`, on a connection of its own. */
  get(user: JourneyUser, path: string): Promise<{ status: number }>;
  /** A WebSocket through the sidecar as `user` (open, echoing). */
  websocket(user: JourneyUser): Promise<WebSocket>;
  /** What the client socket of `ws` wrote and read so far: the flow's bytes in and out as the sidecar counts them. */
  bytesOf(ws: WebSocket): { in: number; out: number };
  /** `user`'s session as the sessions API lists it (kubectl), waiting until it is listed and `until` holds. */
  session(user: JourneyUser, until?: (s: VigilSession) => boolean, timeoutMs?: number): Promise<VigilSession>;
  stop(): Promise<void>;
}

const policy = `
apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: web-access
spec:
  selector:
    matchLabels: {app: web}
  rules:
    - name: engineers
      action: Allow
      identities: [{group: engineers}]
      requests:
        - methods: [GET]
          paths: ["*"]
`;

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: example/web:1
          ports: [{containerPort: 8080}]
`;

export async function startLiveJourney(env: ClusterEnv, id: string): Promise<LiveJourney> {
  const namespace = `console-${id}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    await kubectlOk(env, ["create", "namespace", namespace]);
    await kubectlOk(env, ["label", "namespace", namespace, "vigil.dev/injection=enabled"]);
    cleanups.push(() => kubectl(env, ["delete", "namespace", namespace, "--wait=false"]));
    const issuer = await createIssuer();
    const operator = await startLiveOperator(env, {
      release: `vigil-console-${id}`,
      system: `vigil-console-system-${id}`,
      values: {
        injection: { namespaces: [namespace] },
        sidecar: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: issuer.jwks }] },
      },
    });
    cleanups.push(() => operator.stop());
    await waitFor(() => kubectlOk(env, ["get", "serviceaccount", "default"], { namespace }));

    await kubectlOk(env, ["apply", "-f", "-"], { namespace, input: deployment });
    const pod = await waitFor(async () => {
      const pods = await kubectlJson<{ items: V1Pod[] }>(env, ["get", "pods", "-l", "app=web"], { namespace });
      const found = pods.items.find((p) => p.metadata?.annotations?.["vigil.dev/injection-status"] === "injected");
      if (found === undefined) throw new Error("no injected pod yet");
      return found;
    }, 60_000);
    const podName = pod.metadata?.name ?? "";

    const users = {
      alice: {
        subject: "alice",
        email: "alice@example.test",
        token: await issuer.token({ sub: "alice", sid: `alice-${id}`, email: "alice@example.test", groups: ["engineers"] }),
      },
      bob: {
        subject: "bob",
        email: "bob@example.test",
        token: await issuer.token({ sub: "bob", sid: `bob-${id}`, email: "bob@example.test", groups: ["engineers", "oncall"] }),
      },
    };
    const app = await startUpstreamApp();
    cleanups.push(() => app.close());
    const sidecar = await startInjectedSidecar(env, pod, app.port, SIDECAR_AUDIT);
    cleanups.push(() => sidecar.stop());
    await sidecar.waitReady();

    const headers = (user: JourneyUser): Record<string, string> => ({ authorization: `Bearer ${user.token}`, "user-agent": `journey-${user.subject}/1.0` });
    const get = (user: JourneyUser, path: string): Promise<{ status: number }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: sidecar.port, path, agent: false, headers: { ...headers(user), connection: "close" } }, (res) => {
          res.resume();
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0 });
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end();
      });
    const session = (user: JourneyUser, until: (s: VigilSession) => boolean = () => true, timeoutMs = 30_000): Promise<VigilSession> =>
      waitFor(async () => {
        const list = await kubectlJson<{ items: VigilSession[] }>(env, ["get", "vigilsessions"], { namespace });
        const found = list.items.find((s) => s.identity.subject === user.subject);
        if (found === undefined) throw new Error(`no session of ${user.subject} listed yet`);
        if (!until(found)) throw new Error(`${user.subject}'s session not there yet: ${JSON.stringify(found)}`);
        return found;
      }, timeoutMs);

    await kubectlOk(env, ["apply", "-f", "-"], { namespace, input: policy });
    cleanups.push(() => kubectl(env, ["delete", "accesspolicies.vigil.dev", "--all", "--timeout=15s"], { namespace }));
    await waitFor(async () => {
      const p = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[]; enforcingSidecars?: number } }>(
        env,
        ["get", "accesspolicy", "web-access"],
        { namespace },
      );
      if (p.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True" || p.status.enforcingSidecars !== 1)
        throw new Error(`policy not enforced yet: ${JSON.stringify(p.status)}`);
      const r = await get(users.bob, "/");
      if (r.status !== 200) throw new Error(`bob got ${r.status}`);
    }, 60_000);
    // bob's session (the readiness probe above) as the sidecar reported it: the journey starts with one session.
    await session(users.bob);

    const clientSockets = new WeakMap<WebSocket, Socket>();
    return {
      env,
      namespace,
      operator,
      sidecar,
      pod: podName,
      issuer,
      users,
      get,
      async websocket(user) {
        const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`, { headers: headers(user) });
        ws.on("error", () => undefined);
        ws.once("upgrade", (res: IncomingMessage) => clientSockets.set(ws, res.socket));
        await once(ws, "open");
        return ws;
      },
      bytesOf(ws) {
        const socket = clientSockets.get(ws);
        if (socket === undefined) throw new Error("not a WebSocket of this journey");
        return { in: socket.bytesWritten, out: socket.bytesRead };
      },
      session,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
