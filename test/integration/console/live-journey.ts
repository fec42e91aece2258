/**
 * A live journey for the plugin's and the console's tests, on the real control plane: the chart installed, the
 * sessions API in-process (rig.ts), vigil-operator's controllers as a local process with the chart's environment
 * and ServiceAccount (the injection webhook pointed at it), a Deployment whose Pod the webhook injects, that
 * injected sidecar run as a real process in front of a real application, and an AccessPolicy letting the
 * engineers in. Users make real requests and open real WebSockets through the sidecar with real tokens; a
 * SessionTermination is carried out by the real operator and sidecar, and reaches Completed with real counts.
 *
 * What the sidecars will report themselves once the audit stream is connected (issue 10, the ingest work) is
 * reported here by `SessionReporter`: the application behind the sidecar sees each admitted request and WebSocket
 * with the verified identity headers the sidecar injects (X-Vigil-Session is the real session id), and feeds the
 * SessionIndex with the same records (SessionSeen, FlowSeen with real byte counts, FlowClosed, SessionEnded), with
 * the types and codes of docs/audit-events.md (flow.open VF001I, flow.close VF003I). When
 * a flow is reset it asks the sidecar whether the user's token is now refused (401 SESSION_REVOKED) and reports the
 * session's end. Switching to the real ingest: drop the reporter, run the operator with its sessions API (the rig's
 * routeService to its port) and use a plain application — the tests read only through the API.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { V1Pod } from "@kubernetes/client-node";
import { vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import type { SessionIndex } from "../../../operator/sessions-api/index/session-index.ts";
import type { ClusterEnv } from "../../cluster/env.ts";
import { startSessionsRig, type SessionsRig } from "../sessions-api/rig.ts";
import { AUDIENCE, createIssuer, ISSUER, type Issuer } from "../sidecar/proxy-harness.ts";
import { startInjectedSidecar, type LocalSidecar } from "../e2e/local-sidecar.ts";
import { startLocalProcess, type LocalProcess } from "../support/local-process.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";

const waitFor = <T>(fn: () => Promise<T> | T, timeout = 30_000, interval = 200): Promise<T> => vi.waitFor(fn, { timeout, interval });

export interface JourneyUser {
  subject: string;
  email: string;
  token: string;
}

export interface LiveJourney {
  env: ClusterEnv;
  namespace: string;
  rig: SessionsRig;
  sidecar: LocalSidecar;
  pod: string;
  issuer: Issuer;
  users: Record<"alice" | "bob", JourneyUser>;
  /** A request through the sidecar as `user`. */
  get(user: JourneyUser, path: string): Promise<Response>;
  /** A WebSocket through the sidecar as `user` (open, echoing). */
  websocket(user: JourneyUser): Promise<WebSocket>;
  /** The session id the sidecar gave `user` (seen by the application). */
  sessionOf(user: JourneyUser): string | undefined;
  stop(): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return typeof v === "string" ? decodeURIComponent(v) : "";
};

/** The application behind the sidecar, reporting what it sees into the index (see the file comment). */
async function startReportingApp(index: SessionIndex, namespace: string, pod: () => string, probe: (subject: string) => Promise<number>): Promise<{ port: number; sessions: Map<string, string>; close(): Promise<void> }> {
  const sessions = new Map<string, string>(); // subject → session id
  const sockets = new Set<Socket>();
  let flowIds = 0;
  const report = (req: IncomingMessage): string => {
    const sessionId = header(req, "x-vigil-session");
    const subject = header(req, "x-vigil-subject");
    const email = header(req, "x-vigil-email");
    sessions.set(subject, sessionId);
    index.upsertSession({
      sessionId,
      identity: { issuer: ISSUER, subject, ...(email === "" ? {} : { email }), groups: header(req, "x-vigil-groups").split(",").filter((g) => g !== "") },
      workload: { namespace, pod: pod(), kind: "Deployment", name: "web" },
      clientIP: (req.headers["x-forwarded-for"] as string | undefined)?.split(",").pop()?.trim() ?? "127.0.0.1",
      ...(req.headers["user-agent"] === undefined ? {} : { userAgent: req.headers["user-agent"] }),
      time: Date.now(),
      admittedBy: { policy: "web-access", rule: "engineers" },
      requests: 1,
    });
    return sessionId;
  };
  const server: Server = createServer((req, res) => {
    report(req);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok: true }));
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", (ws, req) => {
    const sessionId = report(req);
    const subject = header(req, "x-vigil-subject");
    const flow = { sessionId, workload: { namespace, pod: pod() }, flowId: String(++flowIds), kind: "websocket" as const, peer: `127.0.0.1:${req.socket.remotePort ?? 0}`, port: (server.address() as AddressInfo).port, bytesIn: 0, bytesOut: 0, openedAt: Date.now() };
    index.upsertFlow(flow);
    index.recordEvent({ sessionId, workload: flow.workload, time: Date.now(), type: "flow.open", code: "VF001I", outcome: "success", reason: "websocket" });
    ws.on("message", (data: Buffer) => {
      flow.bytesIn += data.length;
      ws.send(data);
      flow.bytesOut += data.length;
      index.upsertFlow(flow);
    });
    ws.on("error", () => undefined);
    ws.on("close", () => {
      index.closeFlow({ sessionId, workload: flow.workload, flowId: flow.flowId, bytesIn: flow.bytesIn, bytesOut: flow.bytesOut, closedAt: Date.now(), reason: "reset" });
      index.recordEvent({ sessionId, workload: flow.workload, time: Date.now(), type: "flow.close", code: "VF003I", outcome: "success", reason: "connection reset" });
      void probe(subject).then((status) => {
        if (status === 401) index.endSession({ sessionId, time: Date.now(), reason: "Terminated", detail: "SESSION_REVOKED" });
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    close: async () => {
      wss.close();
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
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
  };
  try {
    await kubectlOk(env, ["create", "namespace", namespace]);
    await kubectlOk(env, ["label", "namespace", namespace, "vigil.dev/injection=enabled"]);
    cleanups.push(() => kubectl(env, ["delete", "namespace", namespace, "--wait=false"]));
    const issuer = await createIssuer();
    const rig = await startSessionsRig(env, id, {
      injection: { namespaces: [namespace] },
      sidecar: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: issuer.jwks }] },
    });
    cleanups.push(() => rig.stop());

    // The controllers and the webhook as a local process (its own sessions API is not routed: the rig's is).
    const operator: LocalProcess = startLocalProcess("operator/main.ts", { ...rig.operator.env, VIGIL_SESSIONS_API_PORT: "0" });
    cleanups.push(() => operator.stop());
    await waitFor(async () => {
      if (!operator.running()) throw new Error(`operator exited:\n${operator.output()}`);
      const ready = await fetch(`http://127.0.0.1:${rig.operator.adminPort}/readyz`).then((r) => r.ok, () => false);
      if (!ready) throw new Error("operator not ready");
    }, 60_000);
    const webhooks = await kubectlJson<{ items: { metadata: { name: string; labels?: Record<string, string> }; webhooks: { clientConfig: { caBundle?: string } }[] }[] }>(env, ["get", "mutatingwebhookconfigurations"]);
    const mwc = webhooks.items.find((w) => w.metadata.labels?.["app.kubernetes.io/instance"] === rig.release);
    if (mwc === undefined) throw new Error(`no MutatingWebhookConfiguration of ${rig.release}`);
    const caBundle = await waitFor(async () => {
      const current = await kubectlJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(env, ["get", "mutatingwebhookconfiguration", mwc.metadata.name]);
      const bundle = current.webhooks[0]?.clientConfig.caBundle ?? "";
      if (bundle === "") throw new Error("caBundle not set yet");
      return bundle;
    });
    const url = `https://127.0.0.1:${rig.operator.webhookPort}/mutate-pods`;
    const patch = mwc.webhooks.map((_, i) => ({ op: "replace", path: `/webhooks/${i}/clientConfig`, value: { url, caBundle } }));
    await kubectlOk(env, ["patch", "mutatingwebhookconfiguration", mwc.metadata.name, "--type=json", "-p", JSON.stringify(patch)]);
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
      alice: { subject: "alice", email: "alice@example.test", token: await issuer.token({ sub: "alice", sid: `alice-${id}`, email: "alice@example.test", groups: ["engineers"] }) },
      bob: { subject: "bob", email: "bob@example.test", token: await issuer.token({ sub: "bob", sid: `bob-${id}`, email: "bob@example.test", groups: ["engineers", "oncall"] }) },
    };
    let sidecarPort = 0;
    const get = (user: JourneyUser, path: string): Promise<Response> =>
      fetch(`http://127.0.0.1:${sidecarPort}${path}`, { headers: { authorization: `Bearer ${user.token}`, "user-agent": `journey-${user.subject}/1.0` } });
    const probe = async (subject: string): Promise<number> => {
      const user = Object.values(users).find((u) => u.subject === subject);
      return user === undefined ? 0 : (await get(user, "/whoami")).status;
    };
    const app = await startReportingApp(rig.index, namespace, () => podName, probe);
    cleanups.push(() => app.close());
    const sidecar = await startInjectedSidecar(env, pod, app.port);
    cleanups.push(() => sidecar.stop());
    sidecarPort = sidecar.port;
    await sidecar.waitReady();

    await kubectlOk(env, ["apply", "-f", "-"], { namespace, input: policy });
    cleanups.push(() => kubectl(env, ["delete", "accesspolicies.vigil.dev", "--all", "--timeout=15s"], { namespace }));
    await waitFor(async () => {
      const p = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[]; enforcingSidecars?: number } }>(env, ["get", "accesspolicy", "web-access"], { namespace });
      if (p.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True" || p.status.enforcingSidecars !== 1) throw new Error(`policy not enforced yet: ${JSON.stringify(p.status)}`);
      const r = await get(users.bob, "/");
      if (r.status !== 200) throw new Error(`bob got ${r.status}`);
    }, 60_000);

    return {
      env,
      namespace,
      rig,
      sidecar,
      pod: podName,
      issuer,
      users,
      get,
      async websocket(user) {
        const ws = new WebSocket(`ws://127.0.0.1:${sidecarPort}/ws`, { headers: { authorization: `Bearer ${user.token}`, "user-agent": `journey-${user.subject}/1.0` } });
        ws.on("error", () => undefined);
        await once(ws, "open");
        return ws;
      },
      sessionOf: (user) => app.sessions.get(user.subject),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
