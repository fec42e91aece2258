import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { writeKubeconfig } from "./kubeconfig.ts";
import type { ClusterEnv } from "./env.ts";

/**
 * Mints a kubeconfig that authenticates as ServiceAccount `namespace/name` (TokenRequest API), so a component
 * can run with exactly the RBAC granted to that account. The account must exist.
 */
export async function serviceAccountKubeconfig(env: ClusterEnv, namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const admin = parse(await readFile(env.kubeconfig, "utf8")) as { clusters: { cluster: { "certificate-authority-data": string } }[] };
  const caB64 = admin.clusters[0]?.cluster["certificate-authority-data"] ?? "";
  const path = join(env.dir, `sa-${namespace}-${name}.kubeconfig`);
  await writeKubeconfig(path, env.apiServerUrl, Buffer.from(caB64, "base64").toString(), `system:serviceaccount:${namespace}:${name}`, { token });
  return path;
}
