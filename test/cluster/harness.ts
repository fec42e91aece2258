/**
 * The test control plane: a real etcd, kube-apiserver (RBAC, service-account tokens, admission webhooks and
 * ValidatingAdmissionPolicy, the aggregation layer with its own front-proxy CA) and kube-controller-manager, plus
 * one redis-server, all on free loopback ports, in a scratch directory. No kubelet and no scheduler: Pods are
 * created and admitted but never run. The API server's `cluster` egress (what it sends to Services: aggregated
 * APIs, webhooks by Service) goes through an HTTP CONNECT proxy on a Unix socket (egress-proxy.ts) that reaches
 * only the Services tests registered, on loopback (service-route.ts; docs/decisions/sessions-api-0007-egress-in-tests.md).
 * Everything is started through guard.sh and stopped by PID; `stop()` removes the scratch directory.
 */
import { spawn } from "node:child_process";
import { request } from "node:https";
import { createConnection } from "node:net";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FRONT_PROXY_CLIENT_NAME, generatePki, type Pki } from "./pki.ts";
import { freePort } from "./ports.ts";
import { startProcess, stopProcess, waitFor, type Managed } from "./process.ts";
import { ensureTools, type Tools } from "./tools.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import type { ClusterEnv } from "./env.ts";

export interface Cluster {
  env: ClusterEnv;
  /** Milliseconds from start() to everything ready (binaries already cached). */
  startupMs: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Parent of the scratch directory (default: the OS temp dir). */
  parentDir?: string;
  log?: (line: string) => void;
  /**
   * Also run a node (kubelet, containerd, kube-proxy, kube-scheduler, CoreDNS) so that Pods really run: the whole
   * cluster then lives in a network namespace of its own and its ports are relayed to the host's loopback (node.ts).
   */
  node?: boolean;
}

/** Starts a server: `name` names its log file in the scratch directory. */
export type Launch = (name: string, cmd: string, args: string[]) => Managed;

export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  if (opts.node === true) {
    const { startNodeCluster } = await import("./node.ts");
    return startNodeCluster(opts);
  }
  const tools = await ensureTools();
  const t0 = Date.now();
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), "vigil-cluster-"));
  const janitor = spawn("bash", [join(import.meta.dirname, "janitor.sh"), String(process.pid), dir], { detached: true, stdio: "ignore" });
  janitor.unref();
  const procs: Managed[] = [];
  const stop = async (): Promise<void> => {
    for (const p of procs.reverse()) await stopProcess(p);
    if (janitor.pid !== undefined) process.kill(janitor.pid, "SIGTERM");
    procs.length = 0;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const pki = await generatePki(dir, tools.openssl);
    const [etcdPort, peerPort, apiPort, kcmPort, redisPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const apiServerUrl = `https://127.0.0.1:${apiPort}`;

    const launch: Launch = (name, cmd, args) => startProcess(dir, name, cmd, args);
    const redis = startRedis(launch, dir, tools, redisPort);
    procs.push(redis);
    const egress = await startEgressProxy(launch, dir);
    procs.push(egress.proc);
    const etcd = startEtcd(launch, dir, tools, etcdPort, peerPort);
    procs.push(etcd);
    await waitFor("etcd", async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, etcd);

    await writeFile(join(dir, "audit-policy.yaml"), AUDIT_POLICY);
    await writeFile(join(dir, "egress-selector.yaml"), egressSelectorConfig(egress.socket));
    const api = startApiServer(launch, dir, tools, pki, etcdUrl, {
      bindAddress: "127.0.0.1",
      advertiseAddress: "127.0.0.1",
      port: apiPort,
      extraArgs: [`--egress-selector-config-file=${join(dir, "egress-selector.yaml")}`],
    });
    procs.push(api);
    const caPem = await readFile(pki.caCert, "utf8");
    const admin = { certPem: await readFile(pki.adminCert, "utf8"), keyPem: await readFile(pki.adminKey, "utf8") };
    await waitFor("kube-apiserver", () => httpsOk(`${apiServerUrl}/readyz`, caPem, admin), 60_000, api);

    const kubeconfig = join(dir, "admin.kubeconfig");
    await writeKubeconfig(kubeconfig, apiServerUrl, caPem, "vigil-test-admin", admin);
    const kcmConfig = join(dir, "kcm.kubeconfig");
    await writeKubeconfig(kcmConfig, apiServerUrl, caPem, "system:kube-controller-manager", {
      certPem: await readFile(pki.controllerManagerCert, "utf8"),
      keyPem: await readFile(pki.controllerManagerKey, "utf8"),
    });
    const kcm = startControllerManager(launch, dir, tools, pki, kcmConfig, kcmPort);
    procs.push(kcm);
    await waitFor("redis-server", () => redisPing(redisPort), 15_000, redis);
    await waitFor("kube-controller-manager", () => httpsOk(`https://127.0.0.1:${kcmPort}/healthz`, null, null), 60_000, kcm);

    const env: ClusterEnv = {
      dir,
      kubeconfig,
      apiServerUrl,
      etcdUrl,
      redisUrl: `redis://127.0.0.1:${redisPort}`,
      kubectl: tools.kubectl,
      helm: tools.helm,
      egressRoutesDir: egress.routesDir,
      frontProxy: pki.frontProxy,
    };
    await writeFile(join(dir, "pids"), procs.map((p) => `${p.name} ${p.pid}`).join("\n") + "\n");
    return { env, startupMs: Date.now() - t0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Metadata-level audit of requests made by service accounts (not the test's admin, not system components), so a
 * test can list exactly which verbs on which resources a component used (see audit.ts).
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

/**
 * The API server's `cluster` egress: HTTP CONNECT over a Unix socket (the TCP transport of egress selection
 * always speaks TLS to the proxy; a Unix socket keeps it plain and off every network).
 */
function egressSelectorConfig(socket: string): string {
  return `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
  - name: cluster
    connection:
      proxyProtocol: HTTPConnect
      transport:
        uds:
          udsName: ${socket}
`;
}

async function startEgressProxy(launch: Launch, dir: string): Promise<{ proc: Managed; socket: string; routesDir: string }> {
  const socket = join(dir, "egress.sock");
  const routesDir = join(dir, "egress-routes");
  await mkdir(routesDir, { recursive: true });
  const proc = launch("egress-proxy", process.execPath, [join(import.meta.dirname, "egress-proxy.ts"), socket, routesDir]);
  await waitFor("egress proxy", () => Promise.resolve(existsSync(socket)), 15_000, proc);
  return { proc, socket, routesDir };
}

export function startRedis(launch: Launch, dir: string, tools: Tools, port: number): Managed {
  return launch("redis", tools.redisServer, [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--maxmemory-policy",
    "noeviction",
    "--protected-mode",
    "yes",
    "--daemonize",
    "no",
  ]);
}

export function startEtcd(launch: Launch, dir: string, tools: Tools, port: number, peerPort: number): Managed {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return launch("etcd", tools.etcd, [
    "--name",
    "vigil",
    "--data-dir",
    join(dir, "etcd"),
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `vigil=${peer}`,
    "--unsafe-no-fsync",
    "--log-level",
    "warn",
  ]);
}

export interface ApiServerOptions {
  bindAddress: string;
  advertiseAddress: string;
  port: number;
  /** Replaces --authorization-mode=RBAC and adds flags (the node's Node authorizer, kubelet client certificate, …). */
  authorizationMode?: string;
  admissionPlugins?: string[];
  extraArgs?: string[];
}

const ADMISSION_PLUGINS = ["NamespaceLifecycle", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ValidatingAdmissionPolicy"];

export function startApiServer(launch: Launch, dir: string, tools: Tools, pki: Pki, etcdUrl: string, opts: ApiServerOptions): Managed {
  return launch("kube-apiserver", tools.kubeApiserver, [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${opts.bindAddress}`,
    `--advertise-address=${opts.advertiseAddress}`,
    `--secure-port=${opts.port}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--authorization-mode=${opts.authorizationMode ?? "RBAC"}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    `--enable-admission-plugins=${[...ADMISSION_PLUGINS, ...(opts.admissionPlugins ?? [])].join(",")}`,
    "--cert-dir",
    join(dir, "apiserver-certs"),
    `--audit-policy-file=${join(dir, "audit-policy.yaml")}`,
    `--audit-log-path=${join(dir, "audit.log")}`,
    "--audit-log-format=json",
    "--audit-log-mode=batch",
    "--audit-log-batch-max-wait=1s",
    // The aggregation layer: its own front-proxy CA and the client certificate it proxies with.
    `--requestheader-client-ca-file=${pki.frontProxy.caCert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_NAME}`,
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.frontProxy.clientCert}`,
    `--proxy-client-key-file=${pki.frontProxy.clientKey}`,
    "--profiling=false",
    "--v=1",
    ...(opts.extraArgs ?? []),
  ]);
}

/** Controllers that need a node or a cloud are left out (with a node, nodelifecycle lifts the not-ready taint). */
export const CONTROLLERS_WITHOUT_NODE =
  "*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-ttl,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller";

export function startControllerManager(
  launch: Launch,
  dir: string,
  tools: Tools,
  pki: Pki,
  kubeconfig: string,
  port: number,
  controllers = CONTROLLERS_WITHOUT_NODE,
): Managed {
  return launch("kube-controller-manager", tools.kubeControllerManager, [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--cert-dir",
    join(dir, "kcm-certs"),
    "--leader-elect=false",
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--controllers=${controllers}`,
    "--profiling=false",
    "--v=1",
  ]);
}

export function httpsOk(url: string, caPem: string | null, client: { certPem: string; keyPem: string } | null): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = request(
      url,
      {
        ...(caPem ? { ca: caPem } : { rejectUnauthorized: false }),
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolveOk(res.statusCode === 200);
      },
    );
    req.on("error", () => {
      resolveOk(false);
    });
    req.on("timeout", () => {
      req.destroy();
    });
    req.end();
  });
}

export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(1000, () => socket.destroy());
    socket.once("data", (d) => {
      resolvePing(d.toString().startsWith("+PONG"));
      socket.end();
    });
    socket.once("error", () => {
      resolvePing(false);
    });
    socket.once("close", () => {
      resolvePing(false);
    });
  });
}
