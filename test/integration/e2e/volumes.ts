/**
 * Materialises what a container's volume mounts would show it, under a local root directory: ConfigMap and
 * Secret volumes (one file per key, Secret data decoded) read from the API server, and downward-API
 * `metadata.labels` / `metadata.annotations` files in the kubelet's format (`key="value"` lines). Service-account
 * token projections and emptyDirs are skipped (the local process has no use for them). A path in the container
 * (`/etc/vigil/issuers/issuers.yaml`) becomes `localPath(root, path)`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { ClusterEnv } from "../../cluster/env.ts";
import { kubectlJson } from "../support/kubectl.ts";

export const localPath = (root: string, containerPath: string): string => join(root, containerPath);

const downwardFormat = (map: Record<string, string>): string =>
  Object.entries(map)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("\n");

/** Writes every ConfigMap, Secret and downward-API volume `container` mounts; returns the mount paths written. */
export async function materialiseMounts(env: ClusterEnv, pod: V1Pod, container: V1Container, root: string): Promise<string[]> {
  const namespace = pod.metadata?.namespace ?? "";
  const written: string[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
    if (volume === undefined) throw new Error(`volume ${mount.name} not in the pod`);
    const dir = localPath(root, mount.mountPath);
    const files: Record<string, string | Buffer> = {};
    if (volume.configMap !== undefined) {
      const cm = await kubectlJson<{ data?: Record<string, string> }>(env, ["get", "configmap", volume.configMap.name ?? ""], { namespace });
      for (const [k, v] of Object.entries(cm.data ?? {})) files[k] = v;
    } else if (volume.secret !== undefined) {
      const s = await kubectlJson<{ data?: Record<string, string> }>(env, ["get", "secret", volume.secret.secretName ?? ""], { namespace });
      for (const [k, v] of Object.entries(s.data ?? {})) files[k] = Buffer.from(v, "base64");
    } else if (volume.downwardAPI !== undefined) {
      for (const item of volume.downwardAPI.items ?? []) {
        const field = item.fieldRef?.fieldPath;
        if (field === "metadata.labels") files[item.path] = downwardFormat(pod.metadata?.labels ?? {});
        else if (field === "metadata.annotations") files[item.path] = downwardFormat(pod.metadata?.annotations ?? {});
        else throw new Error(`downward API field ${field ?? "?"} is not materialised locally`);
      }
    } else {
      continue; // projected service-account token, emptyDir
    }
    await mkdir(dir, { recursive: true });
    for (const [k, v] of Object.entries(files)) await writeFile(join(dir, k), v);
    written.push(mount.mountPath);
  }
  return written;
}
