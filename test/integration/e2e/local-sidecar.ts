/**
 * The sidecar the webhook injected into a stored Pod, run as a local process with the configuration the injection
 * produced: the injected container's env resolved for that pod (fieldRef → its name/namespace, secretKeyRef read
 * from its namespace) and its mounts (pod labels, issuers ConfigMap, key-ring Secret) written under a temp root,
 * the file-path settings pointed there. Overridden, because this machine is not the pod's network namespace: the
 * listen and admin ports (free local ports) and the upstream port (the local application's port).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { ClusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { resolveContainerEnv } from "./env-resolve.ts";
import { startLocalProcess, waitForReadyz, type LocalProcess } from "../support/local-process.ts";
import { localPath, materialiseMounts } from "./volumes.ts";

export const SIDECAR_CONTAINER = "vigil-sidecar";
const FILE_SETTINGS = ["VIGIL_POD_LABELS_FILE", "VIGIL_ISSUERS_FILE", "VIGIL_KEY_RING_DIR", "VIGIL_BUS_KEYS_DIR"] as const;

export function injectedSidecar(pod: V1Pod): V1Container {
  const container = pod.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER);
  if (container === undefined) throw new Error(`pod ${pod.metadata?.name ?? "?"} has no ${SIDECAR_CONTAINER} init container`);
  return container;
}

export interface LocalSidecar extends LocalProcess {
  port: number;
  adminPort: number;
  env: Record<string, string>;
  waitReady(timeoutMs?: number): Promise<void>;
}

/** `overrides`: further settings (e.g. faster audit reporting in tests). */
export async function startInjectedSidecar(env: ClusterEnv, pod: V1Pod, upstreamPort: number, overrides: Record<string, string> = {}): Promise<LocalSidecar> {
  const container = injectedSidecar(pod);
  const root = await mkdtemp(join(tmpdir(), "vigil-e2e-sidecar-"));
  await materialiseMounts(env, pod, container, root);
  const resolved = await resolveContainerEnv(env, container, {
    name: pod.metadata?.name ?? "",
    namespace: pod.metadata?.namespace ?? "",
  });
  for (const key of FILE_SETTINGS) {
    const path = resolved[key];
    if (path === undefined) throw new Error(`injected env lacks ${key}`);
    resolved[key] = localPath(root, path);
  }
  const [port, adminPort] = [await freePort(), await freePort()];
  const sidecarEnv = {
    ...resolved,
    // Local overrides: this machine's free ports instead of the pod's, and the local application's port.
    VIGIL_LISTEN_PORT: String(port),
    VIGIL_ADMIN_PORT: String(adminPort),
    VIGIL_UPSTREAM_PORT: String(upstreamPort),
    ...overrides,
  };
  const proc = startLocalProcess("sidecar/main.ts", sidecarEnv);
  return {
    ...proc,
    pid: proc.pid,
    async stop(graceMs?: number) {
      const code = await proc.stop(graceMs);
      await rm(root, { recursive: true, force: true });
      return code;
    },
    port,
    adminPort,
    env: sidecarEnv,
    waitReady: (timeoutMs = 20_000) => waitForReadyz(proc, adminPort, "sidecar", timeoutMs),
  };
}
