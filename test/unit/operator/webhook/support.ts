/**
 * Builders for the webhook tests: the golden injection configuration, pods, AdmissionReviews, and decoding an
 * admission answer back into the pod the API server would store.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import jsonPatchLib, { type Operation } from "fast-json-patch";
import { parse } from "yaml";
import { parseInjectionConfig, type InjectionConfig } from "../../../../operator/webhook/config.ts";
import type { AdmissionResponse } from "../../../../operator/webhook/admission.ts";

export const GOLDEN_DIR = resolve(import.meta.dirname, "../../../golden/injection");

export function goldenConfig(): InjectionConfig {
  return parseInjectionConfig(parse(readFileSync(join(GOLDEN_DIR, "_injection-config.yaml"), "utf8")));
}

/** The golden config with some fields replaced (still validated). */
export function configWith(overrides: Record<string, unknown>): InjectionConfig {
  const raw = parse(readFileSync(join(GOLDEN_DIR, "_injection-config.yaml"), "utf8")) as Record<string, unknown>;
  return parseInjectionConfig({ ...raw, ...overrides });
}

export type PodOption = (pod: V1Pod) => void;

/** `pod(withPorts(8080), withAnnotation("vigil.dev/inject", "false"))`: a one-container pod in team-a. */
export function pod(...options: PodOption[]): V1Pod {
  const p: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "team-a" },
    spec: { containers: [{ name: "app", image: "example/app:1" }] },
  };
  for (const o of options) o(p);
  return p;
}

export const withPorts =
  (...ports: (number | { containerPort: number; name?: string; protocol?: string })[]): PodOption =>
  (p) => {
    const c = p.spec?.containers[0];
    if (c !== undefined) c.ports = ports.map((x) => (typeof x === "number" ? { containerPort: x } : x));
  };

export const withAnnotation =
  (key: string, value: string): PodOption =>
  (p) => {
    p.metadata ??= {};
    p.metadata.annotations = { ...p.metadata.annotations, [key]: value };
  };

export const withLabel =
  (key: string, value: string): PodOption =>
  (p) => {
    p.metadata ??= {};
    p.metadata.labels = { ...p.metadata.labels, [key]: value };
  };

export const withHostNetwork: PodOption = (p) => {
  if (p.spec !== undefined) p.spec.hostNetwork = true;
};

export const withVolume =
  (name: string): PodOption =>
  (p) => {
    if (p.spec !== undefined) p.spec.volumes = [...(p.spec.volumes ?? []), { name, emptyDir: {} }];
  };

export function admissionReview(object: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const namespace = (object as V1Pod | undefined)?.metadata?.namespace ?? "team-a";
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: randomUUID(),
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object,
      dryRun: false,
      ...overrides,
    },
  };
}

export function responseOf(body: unknown): AdmissionResponse & { uid: string } {
  return (body as { response: AdmissionResponse & { uid: string } }).response;
}

export function patchOf(response: AdmissionResponse): Operation[] {
  return response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as Operation[]);
}

/**
 * `document` with `ops` applied by fast-json-patch, strictly (every op validated: a path that does not exist where
 * RFC 6902 says it must throws), leaving `document` untouched.
 */
export function applyJsonPatch<T>(document: T, ops: readonly Operation[]): T {
  return jsonPatchLib.applyPatch(structuredClone(document), structuredClone([...ops]), true, true).newDocument;
}

/** What the API server would store: the pod with the response's patch applied. */
export function admitted(input: V1Pod, response: AdmissionResponse): V1Pod {
  return applyJsonPatch(input, patchOf(response));
}
