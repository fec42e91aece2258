/**
 * Turns a container's env as stored in the API server into the environment of a local process: `value` as is,
 * `fieldRef` from the given pod identity, `secretKeyRef` / `configMapKeyRef` read from the API server (admin).
 * Anything else (resourceFieldRef, envFrom) is refused: the chart and the webhook never render it, and a silent
 * gap would make the local process run with a configuration the cluster would not give it.
 */
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import type { ClusterEnv } from "../../cluster/env.ts";
import { kubectlJson } from "../support/kubectl.ts";

export interface PodIdentity {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
}

async function keyOf(env: ClusterEnv, kind: "secret" | "configmap", namespace: string, name: string, key: string): Promise<string> {
  const obj = await kubectlJson<{ data?: Record<string, string> }>(env, ["get", kind, name], { namespace });
  const raw = obj.data?.[key];
  if (raw === undefined) throw new Error(`${kind} ${namespace}/${name} has no key ${key}`);
  return kind === "secret" ? Buffer.from(raw, "base64").toString("utf8") : raw;
}

async function resolveOne(env: ClusterEnv, v: V1EnvVar, pod: PodIdentity): Promise<string> {
  if (v.valueFrom === undefined) return v.value ?? "";
  const { fieldRef, secretKeyRef, configMapKeyRef } = v.valueFrom;
  if (fieldRef !== undefined) {
    if (fieldRef.fieldPath === "metadata.name") return pod.name;
    if (fieldRef.fieldPath === "metadata.namespace") return pod.namespace;
    throw new Error(`env ${v.name}: fieldRef ${fieldRef.fieldPath} is not resolved locally`);
  }
  if (secretKeyRef !== undefined) return keyOf(env, "secret", pod.namespace, secretKeyRef.name ?? "", secretKeyRef.key);
  if (configMapKeyRef !== undefined) return keyOf(env, "configmap", pod.namespace, configMapKeyRef.name ?? "", configMapKeyRef.key);
  throw new Error(`env ${v.name}: unsupported valueFrom`);
}

/** The container's whole env, resolved as the kubelet would for `pod`. */
export async function resolveContainerEnv(env: ClusterEnv, container: V1Container, pod: PodIdentity): Promise<Record<string, string>> {
  if ((container.envFrom ?? []).length > 0) throw new Error(`container ${container.name}: envFrom is not resolved locally`);
  const out: Record<string, string> = {};
  for (const v of container.env ?? []) out[v.name] = await resolveOne(env, v, pod);
  return out;
}
