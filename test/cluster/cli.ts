/**
 * Manual control plane: `npm run cluster:up` starts it in the background and writes .vigil/cluster/env
 * (KUBECONFIG, REDIS_URL, KUBECTL, HELM, ...); `npm run cluster:down` stops it. `serve` is the background half.
 * `npm run cluster:up -- --node` also starts the test node (kubelet, containerd, kube-proxy, kube-scheduler,
 * CoreDNS), so Pods run; env then also has VIGIL_NODE_EXEC (a command prefix that runs inside the node's network
 * namespace), CTR and CONTAINERD_ADDRESS (for `$CTR --address $CONTAINERD_ADDRESS -n k8s.io images import …`).
 */
import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startCluster } from "./harness.ts";
import { repoRoot } from "./tools.ts";

const stateDir = join(repoRoot, ".vigil/cluster");
const envFile = join(stateDir, "env");
const pidFile = join(stateDir, "pid");

const withNode = process.argv.includes("--node");

async function up(): Promise<void> {
  if (await alive()) {
    console.log(`already running; see ${envFile}`);
    return;
  }
  await mkdir(stateDir, { recursive: true });
  await rm(envFile, { force: true });
  const out = openSync(join(stateDir, "serve.log"), "w");
  const child = spawn(process.execPath, [import.meta.filename, "serve", ...(withNode ? ["--node"] : [])], { detached: true, stdio: ["ignore", out, out] });
  child.unref();
  await writeFile(pidFile, `${child.pid ?? ""}\n`);
  const deadline = Date.now() + 30 * 60_000; // the first run builds the control plane
  while (!existsSync(envFile)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      console.error(await readFile(join(stateDir, "serve.log"), "utf8"));
      throw new Error("cluster:up failed");
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(await readFile(envFile, "utf8"));
  console.log(`source ${envFile}   # then: $KUBECTL get ns`);
}

async function serve(): Promise<void> {
  const cluster = await startCluster({ node: withNode });
  const { env } = cluster;
  const node = env.node;
  const lines: Record<string, string> = {
    KUBECONFIG: env.kubeconfig,
    REDIS_URL: env.redisUrl,
    KUBE_APISERVER_URL: env.apiServerUrl,
    ETCD_URL: env.etcdUrl,
    KUBECTL: env.kubectl,
    HELM: env.helm,
    VIGIL_CLUSTER_DIR: env.dir,
    ...(node === undefined ? {} : { VIGIL_NODE_EXEC: `'${node.exec.join(" ")}'`, CTR: node.ctr, CONTAINERD_ADDRESS: node.containerdAddress }),
  };
  const stop = (): void => {
    void cluster
      .stop()
      .finally(() => rm(envFile, { force: true }))
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await writeFile(
    envFile,
    Object.entries(lines)
      .map(([k, v]) => `export ${k}=${v}`)
      .join("\n") + "\n",
  );
  console.log(`ready in ${cluster.startupMs} ms`);
  setInterval(() => undefined, 1 << 30);
}

async function down(): Promise<void> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (pid > 0 && (await alive())) {
    process.kill(pid, "SIGTERM");
    while (isRunning(pid)) await new Promise((r) => setTimeout(r, 200));
  }
  await rm(stateDir, { recursive: true, force: true });
  console.log("cluster stopped");
}

async function alive(): Promise<boolean> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  return pid > 0 && isRunning(pid) && existsSync(envFile);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const commands: Record<string, () => Promise<void>> = { up, down, serve };
const command = commands[process.argv[2] ?? ""];
if (!command) {
  console.error("usage: cli.ts up|down");
  process.exit(2);
}
await command();
