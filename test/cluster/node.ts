/**
 * The test cluster with a node: the control plane of harness.ts plus kubelet, containerd (runc, the CNI bridge,
 * host-local, loopback and portmap plugins), kube-proxy (nftables), kube-scheduler and CoreDNS as a Pod, so that Pods
 * really run from images built on this machine (build-images.sh).
 *
 * Everything runs in a network and mount namespace of its own (node-ns.sh): the node's address, the Pod bridge, Pod
 * and Service addresses and every netfilter rule exist only there, and /run, /var/lib and /var/log are directories of
 * the scratch directory. The host reaches the API server, etcd and Redis through relays whose listening sockets are
 * on the host's loopback (forward.ts). Every process is in one cgroup tree (cgroups.sh), so stopping — or the
 * janitor, after a SIGKILL of the test runner — kills by the PIDs found there and removes the tree; the namespaces,
 * interfaces, rules and mounts then vanish with their last process, and the scratch directory is removed.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import type { ClusterEnv, NodeEnv } from "./env.ts";
import {
  httpsOk,
  redisPing,
  startApiServer,
  startControllerManager,
  startEtcd,
  startRedis,
  AUDIT_POLICY,
  type Cluster,
  type Launch,
  type StartOptions,
} from "./harness.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { generatePki, issueClientCert } from "./pki.ts";
import { startProcess, waitFor, type Managed } from "./process.ts";
import { ensureTools } from "./tools.ts";

const run = promisify(execFile);
const here = import.meta.dirname;

export const NODE_NAME = "vigil-node";
const NODE_IP = "10.200.0.2";
const CLUSTER_CIDR = "10.244.0.0/16";
const POD_CIDR = "10.244.0.0/24";
const SERVICE_CIDR = "10.96.0.0/16"; // the API server's --service-cluster-ip-range (harness.ts)
const KUBERNETES_SERVICE_IP = "10.96.0.1";
const CLUSTER_DNS = "10.96.0.10";
const API_PORT = 6443;
const ETCD_PORT = 2379;
const REDIS_PORT = 6379;
export const PAUSE_IMAGE = "localhost/vigil-test/pause:1";
export const COREDNS_IMAGE = "localhost/vigil-test/coredns:1";
export const REDIS_IMAGE = "localhost/vigil-test/redis:7";

export interface NodeTools {
  bin: (name: string) => string;
  cniDir: string;
  /** OCI archives of the node's own images (pause, coredns, redis). */
  archives: string;
  runc: string;
}

const REQUIRED_COMMANDS = ["unshare", "nsenter", "ip", "mount", "runc", "buildah", "mmdebstrap", "nft", "iptables"];

/** Whether this machine can run the node, and if not, exactly what is missing. */
export async function nodeSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== "linux") return { ok: false, reason: `the test node needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "the test node needs root (network namespaces, cgroups, mounts)" };
  const missing: string[] = [];
  for (const cmd of REQUIRED_COMMANDS) {
    const found = await run("bash", ["-c", `command -v ${cmd}`]).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(cmd);
  }
  if (missing.length > 0) return { ok: false, reason: `missing commands: ${missing.join(", ")} (test/cluster/prepare.sh installs them)` };
  const filesystems = await readFile("/proc/filesystems", "utf8");
  if (!/\boverlay\b/.test(filesystems)) return { ok: false, reason: "the kernel has no overlay filesystem" };
  const mounts = await readFile("/proc/self/mounts", "utf8");
  if (!/ cgroup2? /.test(mounts)) return { ok: false, reason: "no cgroup filesystem is mounted" };
  return { ok: true };
}

/** The node's binaries and base images: built once per machine by build-node.sh and build-images.sh (cached). */
export async function ensureNodeTools(): Promise<NodeTools> {
  const last = (out: string): string => out.trim().split("\n").at(-1) ?? "";
  const nodeDir = last((await run("bash", [join(here, "build-node.sh")], { maxBuffer: 16 << 20 })).stdout);
  const archives = last((await run("bash", [join(here, "build-images.sh"), "base"], { maxBuffer: 16 << 20 })).stdout);
  const runc = last((await run("bash", ["-c", "command -v runc"])).stdout);
  return { bin: (name) => join(nodeDir, "bin", name), cniDir: join(nodeDir, "cni"), archives, runc };
}

/** Loads an OCI archive (build-images.sh) into the node's containerd, where the kubelet finds it. */
export async function importImage(node: NodeEnv, archive: string): Promise<void> {
  await run(node.ctr, ["--address", node.containerdAddress, "-n", "k8s.io", "images", "import", "--local", archive], { maxBuffer: 16 << 20, timeout: 300_000 });
}

/** Runs a command in the node's network and mount namespaces. */
export function nodeExec(node: NodeEnv, args: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  const [cmd = "", ...rest] = [...node.exec, ...args];
  return run(cmd, rest, { timeout: timeoutMs, maxBuffer: 32 << 20 });
}

export async function startNodeCluster(opts: StartOptions = {}): Promise<Cluster> {
  const support = await nodeSupport();
  if (!support.ok) throw new Error(`cannot start the test node: ${support.reason}`);
  const tools = await ensureTools();
  const nodeTools = await ensureNodeTools();
  const t0 = Date.now();
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), "vigil-cluster-"));
  if (/^\/(run|var\/lib|var\/log)(\/|$)/.test(dir))
    throw new Error(`the scratch directory ${dir} must not be under /run, /var/lib or /var/log (the node replaces them)`);
  const cgroup = `vigil-${basename(dir)
    .slice("vigil-cluster-".length)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "x")}`;
  const janitor = spawn("bash", [join(here, "janitor.sh"), String(process.pid), dir, cgroup], { detached: true, stdio: "ignore" });
  janitor.unref();
  const procs: Managed[] = [];
  const servers: Server[] = [];
  const stop = async (): Promise<void> => {
    // SIGKILL by PID of everything in the node's cgroup tree (servers, containerd shims, containers), then the
    // guards and relays exit on their own; the namespaces go with their last process.
    await run("bash", [join(here, "cgroups.sh"), "kill", cgroup]).catch(() => undefined);
    for (const s of servers) s.close();
    for (const p of procs) {
      try {
        process.kill(p.pid, "SIGTERM");
      } catch {
        // gone
      }
    }
    await Promise.all(procs.map((p) => p.exited));
    procs.length = 0;
    if (janitor.pid !== undefined) process.kill(janitor.pid, "SIGTERM");
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run("bash", [join(here, "cgroups.sh"), "create", cgroup]);
    const pki = await generatePki(dir, tools.openssl, { apiServerIps: [NODE_IP, KUBERNETES_SERVICE_IP] });
    const certs = {
      kubelet: await issueClientCert(dir, "kubelet", `/O=system:nodes/CN=system:node:${NODE_NAME}`, tools.openssl),
      kubeProxy: await issueClientCert(dir, "kube-proxy", "/CN=system:kube-proxy", tools.openssl),
      scheduler: await issueClientCert(dir, "kube-scheduler", "/CN=system:kube-scheduler", tools.openssl),
      apiToKubelet: await issueClientCert(dir, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", tools.openssl),
    };

    // The namespaces' holder, then every server inside them.
    const holder = startProcess(dir, "node-ns", "bash", [
      join(here, "cgroups.sh"),
      "exec",
      `${cgroup}/runtime`,
      "unshare",
      "--net",
      "--mount",
      "--propagation",
      "private",
      "--",
      "bash",
      join(here, "node-ns.sh"),
      dir,
      NODE_IP,
    ]);
    procs.push(holder);
    await waitFor("the node's namespaces", () => Promise.resolve(existsSync(join(dir, "node-ns.ready"))), 15_000, holder);
    const holderPid = (await readFile(join(dir, "node-ns.pid"), "utf8")).trim();
    const exec = ["bash", join(here, "node-exec.sh"), holderPid, cgroup];
    const launch: Launch = (name, cmd, args) => startProcess(dir, name, "bash", [...exec.slice(1), cmd, ...args]);

    const redis = startRedis(launch, dir, tools, REDIS_PORT);
    procs.push(redis);
    const etcd = startEtcd(launch, dir, tools, ETCD_PORT, ETCD_PORT + 1);
    procs.push(etcd);
    const relay = await startRelay(dir, exec, [API_PORT, ETCD_PORT, REDIS_PORT], servers);
    procs.push(relay.managed);
    const port = (target: number): number => relay.ports.get(target) ?? 0;
    const etcdUrl = `http://127.0.0.1:${port(ETCD_PORT)}`;
    await waitFor("etcd", async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, etcd);

    await writeFile(join(dir, "audit-policy.yaml"), AUDIT_POLICY);
    const api = startApiServer(launch, dir, tools, pki, `http://127.0.0.1:${ETCD_PORT}`, {
      bindAddress: "0.0.0.0",
      advertiseAddress: NODE_IP,
      port: API_PORT,
      authorizationMode: "Node,RBAC",
      admissionPlugins: ["NodeRestriction"],
      extraArgs: [
        `--kubelet-client-certificate=${certs.apiToKubelet.cert}`,
        `--kubelet-client-key=${certs.apiToKubelet.key}`,
        // The node's name resolves nowhere: logs, exec and port-forward go to its address.
        "--kubelet-preferred-address-types=InternalIP",
        // Webhooks and aggregated APIs are called on their endpoints (Pod IPs) directly.
        "--enable-aggregator-routing=true",
      ],
    });
    procs.push(api);
    const caPem = await readFile(pki.caCert, "utf8");
    const admin = { certPem: await readFile(pki.adminCert, "utf8"), keyPem: await readFile(pki.adminKey, "utf8") };
    const apiServerUrl = `https://127.0.0.1:${port(API_PORT)}`;
    await waitFor("kube-apiserver", () => httpsOk(`${apiServerUrl}/readyz`, caPem, admin), 60_000, api);

    const kubeconfig = join(dir, "admin.kubeconfig");
    await writeKubeconfig(kubeconfig, apiServerUrl, caPem, "vigil-test-admin", admin);
    const inside = `https://${NODE_IP}:${API_PORT}`;
    const componentConfig = async (name: string, user: string, cert: { cert: string; key: string }): Promise<string> => {
      const path = join(dir, `${name}.kubeconfig`);
      await writeKubeconfig(path, inside, caPem, user, { certPem: await readFile(cert.cert, "utf8"), keyPem: await readFile(cert.key, "utf8") });
      return path;
    };
    const kcmConfig = await componentConfig("kcm", "system:kube-controller-manager", { cert: pki.controllerManagerCert, key: pki.controllerManagerKey });
    const kcm = startControllerManager(
      launch,
      dir,
      tools,
      pki,
      kcmConfig,
      10257,
      "*,-nodeipam,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
    );
    procs.push(kcm);
    const schedulerConfig = await componentConfig("kube-scheduler", "system:kube-scheduler", certs.scheduler);
    procs.push(
      launch("kube-scheduler", nodeTools.bin("kube-scheduler"), [
        `--kubeconfig=${schedulerConfig}`,
        `--authentication-kubeconfig=${schedulerConfig}`,
        `--authorization-kubeconfig=${schedulerConfig}`,
        "--bind-address=127.0.0.1",
        "--secure-port=10259",
        "--leader-elect=false",
        "--v=1",
      ]),
    );

    // containerd, then the node's own images, then the kubelet and kube-proxy.
    const containerdConfig = join(dir, "containerd.toml");
    await mkdir(join(dir, "cni", "net.d"), { recursive: true });
    await writeFile(join(dir, "cni", "net.d", "10-vigil.conflist"), cniConfig());
    await writeFile(containerdConfig, containerdToml(nodeTools, join(dir, "cni", "net.d")));
    const containerd = launch("containerd", "env", [
      `PATH=${join(nodeTools.bin("containerd"), "..")}:/usr/sbin:/usr/bin:/sbin:/bin`,
      nodeTools.bin("containerd"),
      "--config",
      containerdConfig,
    ]);
    procs.push(containerd);
    const containerdAddress = join(dir, "root", "run", "containerd", "containerd.sock");
    const node: NodeEnv = {
      name: NODE_NAME,
      ip: NODE_IP,
      podCidr: POD_CIDR,
      serviceCidr: SERVICE_CIDR,
      cgroup,
      memoryCgroupRoot: await memoryCgroupRoot(),
      exec,
      containerdAddress,
      ctr: nodeTools.bin("ctr"),
    };
    await waitFor(
      "containerd",
      async () => {
        await run(node.ctr, ["--address", containerdAddress, "version"], { timeout: 5_000 });
        return true;
      },
      30_000,
      containerd,
    );
    await Promise.all(["pause", "coredns", "redis"].map((name) => importImage(node, join(nodeTools.archives, `${name}.tar`))));

    const kubeletConfig = join(dir, "kubelet.yaml");
    await writeFile(join(dir, "resolv.conf"), "");
    await writeFile(kubeletConfig, kubeletYaml(cgroup, pki.caCert, join(dir, "resolv.conf")));
    const kubeletKubeconfig = await componentConfig("kubelet", `system:node:${NODE_NAME}`, certs.kubelet);
    const kubelet = launch("kubelet", nodeTools.bin("kubelet"), [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      "--v=1",
    ]);
    procs.push(kubelet);
    const proxyKubeconfig = await componentConfig("kube-proxy", "system:kube-proxy", certs.kubeProxy);
    await writeFile(join(dir, "kube-proxy.yaml"), kubeProxyYaml(proxyKubeconfig));
    procs.push(launch("kube-proxy", nodeTools.bin("kube-proxy"), [`--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"]));

    const env: ClusterEnv = {
      dir,
      kubeconfig,
      apiServerUrl,
      etcdUrl,
      redisUrl: `redis://127.0.0.1:${port(REDIS_PORT)}`,
      kubectl: tools.kubectl,
      helm: tools.helm,
      node,
    };
    const kubectl = (args: string[], input?: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = execFile(
          tools.kubectl,
          [...args, `--cache-dir=${join(dir, "kubectl-cache")}`],
          { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 30_000 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`kubectl ${args.join(" ")}: ${stderr}`));
            else resolve(stdout);
          },
        );
        child.stdin?.on("error", () => undefined); // an early exit is reported by its status, not an EPIPE
        child.stdin?.end(input ?? "");
      });
    await waitFor("redis-server", () => redisPing(port(REDIS_PORT)), 15_000, redis);
    await waitFor(
      "the node to be Ready",
      async () => {
        const out = await kubectl(["get", "node", NODE_NAME, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return out.trim() === "True";
      },
      90_000,
      kubelet,
    );
    await kubectl(["apply", "-f", "-"], corednsManifest());
    await waitFor(
      "CoreDNS",
      async () => {
        await kubectl(["-n", "kube-system", "wait", "--for=condition=Available", "deployment/coredns", "--timeout=5s"]);
        return true;
      },
      90_000,
    ).catch(async (err: unknown) => {
      const pods = await kubectl(["get", "pods", "-A", "-o", "wide"]).catch((e: unknown) => String(e));
      const events = await kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"]).catch((e: unknown) => String(e));
      const kubeletLog = (await readFile(kubelet.log, "utf8").catch(() => "")).split("\n").slice(-40).join("\n");
      throw new Error(`${(err as Error).message}\n${pods}\n${events}\n--- kubelet ---\n${kubeletLog}`);
    });
    await writeFile(join(dir, "pids"), procs.map((p) => `${p.name} ${p.pid}`).join("\n") + "\n");
    return { env, startupMs: Date.now() - t0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The relay (forward.ts) runs inside the node's network namespace; for each target port the harness opens a listening
 * socket on the host's 127.0.0.1 and hands it over, so the host gets a loopback port without any change to its network.
 */
async function startRelay(dir: string, exec: string[], targets: number[], servers: Server[]): Promise<{ managed: Managed; ports: Map<number, number> }> {
  const log = join(dir, "relay.log");
  const fd = openSync(log, "a");
  const child = spawn("bash", [join(here, "guard.sh"), String(process.pid), ...exec, process.execPath, join(here, "forward.ts")], {
    stdio: ["ignore", fd, fd, "ipc"],
    cwd: dir,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error("could not start the relay");
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
    }),
  );
  const managed: Managed = { name: "relay", pid: child.pid, log, exited };
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => {
      resolve();
    });
    void exited.then(async () => {
      reject(new Error(`the relay exited: ${await readFile(log, "utf8")}`));
    });
  });
  const ports = new Map<number, number>();
  for (const target of targets) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    ports.set(target, typeof address === "object" && address !== null ? address.port : 0);
    await new Promise<void>((resolve, reject) => {
      child.send({ target }, server, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    // The relay holds its own copy of the socket; ours stops accepting.
    servers.push(server);
    server.close();
  }
  child.unref();
  child.channel?.unref();
  return { managed, ports };
}

async function memoryCgroupRoot(): Promise<string> {
  const mounts = (await readFile("/proc/self/mounts", "utf8")).split("\n").map((l) => l.split(" "));
  const v1 = mounts.find((m) => m[2] === "cgroup" && (m[3] ?? "").split(",").includes("memory"));
  if (v1?.[1] !== undefined) return v1[1];
  const v2 = mounts.find((m) => m[2] === "cgroup2");
  return v2?.[1] ?? "/sys/fs/cgroup";
}

function cniConfig(): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "vigil",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: POD_CIDR, gateway: "10.244.0.1" }]], routes: [{ dst: "0.0.0.0/0" }] },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function containerdToml(tools: NodeTools, cniConfDir: string): string {
  return `version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"

[plugins.'io.containerd.cri.v1.runtime']
  # Without CAP_SYS_RESOURCE (this sandbox drops it) runc cannot lower oom_score_adj below containerd's own; the
  # kubelet asks for -998 for every pod sandbox. Restricted, it is raised to containerd's value instead.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${tools.runc}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${tools.cniDir}"]
    conf_dir = "${cniConfDir}"
`;
}

function kubeletYaml(cgroup: string, caFile: string, resolvConf: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 machines: deprecated upstream, still supported when asked for.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${cgroup}
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
address: 0.0.0.0
port: 10250
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${caFile}}
authorization:
  mode: Webhook
clusterDomain: cluster.local
clusterDNS: [${CLUSTER_DNS}]
resolvConf: ${resolvConf}
failSwapOn: false
# The node shares the machine's disk: never evict for disk pressure and never collect the images it was given.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
`;
}

function kubeProxyYaml(kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: ${kubeconfig}}
hostnameOverride: ${NODE_NAME}
clusterCIDR: ${CLUSTER_CIDR}
bindAddress: ${NODE_IP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave conntrack sysctls alone (nf_conntrack_max is not per network namespace).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`;
}

function corednsManifest(): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "vigil-test:coredns"}
rules:
  - apiGroups: [""]
    resources: [services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "vigil-test:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "vigil-test:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
      containers:
        - name: coredns
          image: ${COREDNS_IMAGE}
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /health, port: 8080}
          resources:
            limits: {memory: 128Mi}
            requests: {cpu: 20m, memory: 32Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: ${CLUSTER_DNS}
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
`;
}
