/**
 * Small builders for the operator runtime's integration tests: KubeConfigs (direct, or through a TCP relay),
 * the test-only Widget CRD, namespaces and Widgets, and etcd compaction.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { vi } from "vitest";
import type { ClusterEnv } from "../../cluster/env.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { createLogger } from "../../../lib/log.ts";

export const WIDGETS = { group: "fixtures.vigil.dev", version: "v1", plural: "widgets" } as const;

export const quietLog = createLogger({ name: "vigil-operator", level: process.env["LOG_LEVEL"] ?? "silent" });

export function kubeConfig(env: ClusterEnv): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}

/** The same credentials, talking to `server` instead (e.g. a relay on another port). */
export function kubeConfigVia(env: ClusterEnv, server: string): KubeConfig {
  const base = kubeConfig(env);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.clusters.map((c) => ({ ...c, server })),
    users: base.users,
    contexts: base.contexts,
    currentContext: base.currentContext,
  });
  return kc;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function applyWidgetCrd(env: ClusterEnv): Promise<void> {
  await kubectlOk(env, ["apply", "--server-side", "--force-conflicts", "-f", join(import.meta.dirname, "../fixtures/widgets.crd.yaml")]);
  await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/widgets.fixtures.vigil.dev"]);
  // Discovery for the new group can lag Established by a moment.
  const api = kubeConfig(env).makeApiClient(CustomObjectsApi);
  await vi.waitFor(() => api.listClusterCustomObject({ ...WIDGETS }), { timeout: 15_000, interval: 200 });
}

export async function createNamespace(env: ClusterEnv, name = uniqueName("ns")): Promise<string> {
  await kubeConfig(env)
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}

export interface Widget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string; finalizers?: string[]; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export function widgets(kc: KubeConfig) {
  const api = kc.makeApiClient(CustomObjectsApi);
  return {
    api,
    create: async (namespace: string, name: string, spec: Record<string, unknown> = {}): Promise<Widget> =>
      (await api.createNamespacedCustomObject({
        ...WIDGETS,
        namespace,
        body: { apiVersion: "fixtures.vigil.dev/v1", kind: "Widget", metadata: { name, namespace }, spec },
      })) as Widget,
    get: async (namespace: string, name: string): Promise<Widget> => (await api.getNamespacedCustomObject({ ...WIDGETS, namespace, name })) as Widget,
    update: async (namespace: string, name: string, spec: Record<string, unknown>): Promise<Widget> =>
      (await api.patchNamespacedCustomObject({ ...WIDGETS, namespace, name, body: [{ op: "add", path: "/spec", value: spec }] })) as Widget,
    remove: async (namespace: string, name: string): Promise<void> => {
      await api.deleteNamespacedCustomObject({ ...WIDGETS, namespace, name });
    },
  };
}

async function etcdPost(env: ClusterEnv, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${env.etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Compact etcd's history up to its current revision; returns that revision. */
export async function compactEtcd(env: ClusterEnv): Promise<number> {
  const range = await etcdPost(env, "/v3/kv/range", { key: Buffer.from("foo").toString("base64") });
  const revision = Number((range["header"] as { revision: string }).revision);
  await etcdPost(env, "/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}
