/**
 * Should this pod get the Vigil sidecar? Pure: `injectionDecision(pod, namespace, cfg)` returns one of
 *   - `inject`: every precondition holds (the reason says what opted it in, the upstream port is resolved);
 *   - `skip`:   the pod is admitted unchanged except for the recorded decision (every applicable reason listed);
 *   - `refuse`: the pod asked for protection (opted-in namespace, or pod opt-in) but cannot be protected, so
 *               admission is denied with `message` rather than letting it run without its sidecar.
 * Reasons are snake_case codes mapped to sentences in `REASONS` (linkerd `pkg/inject/report.go`), so one rule
 * feeds the pod annotation, the admission message, the log and the metric label alike.
 *
 * Order (first match decides the action; within the skip and refuse groups every match is reported):
 *   protected namespace → skip;  neither namespace nor pod opts in → skip;  invalid `vigil.dev/inject` → refuse;
 *   opt-out / already injected / hostNetwork → skip;  upstream port, port and name conflicts → refuse;  else inject.
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { INJECT_FALSE, INJECT_POD_KEY, INJECT_TRUE, INJECTION_ENABLED, INJECTION_NAMESPACE_LABEL, UPSTREAM_PORT_ANNOTATION } from "../api/annotations.ts";
import type { InjectionConfig } from "./config.ts";
import { SIDECAR_CONTAINER_NAME, SIDECAR_VOLUME_NAMES } from "./sidecar-names.ts";

/** Namespaces that are never injected, whatever their labels say (plus `cfg.systemNamespace`). */
export const PROTECTED_NAMESPACES: readonly string[] = ["kube-system", "kube-node-lease", "kube-public"];

export const REASONS = {
  namespace_enabled: `the namespace is labelled ${INJECTION_NAMESPACE_LABEL}=${INJECTION_ENABLED}`,
  pod_enabled: `the pod opts in with ${INJECT_POD_KEY}=${INJECT_TRUE}`,
  protected_namespace: "the namespace is a protected system namespace (kube-system, kube-node-lease, kube-public or Vigil's own) and is never injected",
  injection_not_enabled: `neither the namespace (label ${INJECTION_NAMESPACE_LABEL}=${INJECTION_ENABLED}) nor the pod (${INJECT_POD_KEY}=${INJECT_TRUE}) opts in`,
  pod_opted_out: `the pod opts out with ${INJECT_POD_KEY}=${INJECT_FALSE}`,
  already_injected: `the pod already has the ${SIDECAR_CONTAINER_NAME} container`,
  host_network: "the pod uses the host network: a sidecar would bind ports on the node and cannot stand between the network and the application",
  invalid_inject_value: `${INJECT_POD_KEY} must be "${INJECT_TRUE}" or "${INJECT_FALSE}"`,
  no_upstream_port: `the application port is unknown: set the annotation ${UPSTREAM_PORT_ANNOTATION} or declare a containerPort`,
  invalid_upstream_port: `the annotation ${UPSTREAM_PORT_ANNOTATION} must be a port number (1-65535) or the name of a declared container port`,
  port_conflict: "the pod uses a port the sidecar needs",
  name_conflict: "the pod already has a volume or container with a name the sidecar needs",
} as const;
export type Reason = keyof typeof REASONS;

export type Action = "inject" | "skip" | "refuse";

export interface InjectionDecision {
  readonly action: Action;
  /** `action === "inject"`. */
  readonly inject: boolean;
  /** Every reason that applies (at least one). */
  readonly reasons: readonly Reason[];
  /** The reasons as sentences, with details (e.g. the bad value); what a refused user reads. */
  readonly message: string;
  /** Resolved application port, when `inject`. */
  readonly upstreamPort?: number;
}

export interface NamespaceInfo {
  name: string;
  labels?: Readonly<Record<string, string>> | undefined;
}

interface Finding {
  reason: Reason;
  detail?: string;
}

const decide = (action: Action, findings: readonly Finding[], upstreamPort?: number): InjectionDecision => ({
  action,
  inject: action === "inject",
  reasons: findings.map((f) => f.reason),
  message: findings.map((f) => (f.detail === undefined ? REASONS[f.reason] : `${REASONS[f.reason]} (${f.detail})`)).join("; "),
  ...(upstreamPort === undefined ? {} : { upstreamPort }),
});

/** The pod's own opt-in/opt-out: the label wins over the annotation (only labels are visible to selectors). */
export function podOptIn(pod: V1Pod): "true" | "false" | "unset" | { invalid: string } {
  const raw = pod.metadata?.labels?.[INJECT_POD_KEY] ?? pod.metadata?.annotations?.[INJECT_POD_KEY];
  if (raw === undefined) return "unset";
  if (raw === INJECT_TRUE || raw === INJECT_FALSE) return raw;
  return { invalid: raw };
}

export function isProtectedNamespace(name: string, cfg: Pick<InjectionConfig, "systemNamespace">): boolean {
  return PROTECTED_NAMESPACES.includes(name) || name === cfg.systemNamespace;
}

export function hasSidecar(pod: V1Pod): boolean {
  const named = (cs: readonly V1Container[] | undefined): boolean => (cs ?? []).some((c) => c.name === SIDECAR_CONTAINER_NAME);
  return named(pod.spec?.initContainers) || named(pod.spec?.containers);
}

export function injectionDecision(pod: V1Pod, namespace: NamespaceInfo, cfg: InjectionConfig): InjectionDecision {
  if (isProtectedNamespace(namespace.name, cfg)) return decide("skip", [{ reason: "protected_namespace", detail: namespace.name }]);
  const optIn = podOptIn(pod);
  const nsEnabled = namespace.labels?.[INJECTION_NAMESPACE_LABEL] === INJECTION_ENABLED;
  if (!nsEnabled && optIn !== "true") return decide("skip", [{ reason: "injection_not_enabled" }]);
  if (typeof optIn === "object") return decide("refuse", [{ reason: "invalid_inject_value", detail: `got ${JSON.stringify(optIn.invalid.slice(0, 64))}` }]);

  const skips: Finding[] = [];
  if (optIn === "false") skips.push({ reason: "pod_opted_out" });
  if (hasSidecar(pod)) skips.push({ reason: "already_injected" });
  if (pod.spec?.hostNetwork === true) skips.push({ reason: "host_network" });
  if (skips.length > 0) return decide("skip", skips);

  const port = resolveUpstreamPort(pod);
  const refusals: Finding[] = [...("problem" in port ? [port.problem] : []), ...portConflicts(pod, cfg, port), ...nameConflicts(pod)];
  if (refusals.length > 0 || !("port" in port)) return decide("refuse", refusals);
  return decide("inject", [{ reason: nsEnabled ? "namespace_enabled" : "pod_enabled" }], port.port);
}

const allContainers = (pod: V1Pod): V1Container[] => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];

/**
 * The application's port: the `vigil.dev/upstream-port` annotation (a number, or the name of a declared container
 * port), else the first declared TCP containerPort of the first application container that declares one.
 */
export function resolveUpstreamPort(pod: V1Pod): { port: number } | { problem: Finding } {
  const raw = pod.metadata?.annotations?.[UPSTREAM_PORT_ANNOTATION];
  const declared = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  if (raw === undefined) {
    const first = declared.find((cp) => (cp.protocol ?? "TCP") === "TCP");
    return first === undefined ? { problem: { reason: "no_upstream_port" } } : { port: first.containerPort };
  }
  const invalid = { problem: { reason: "invalid_upstream_port", detail: `got ${JSON.stringify(raw.slice(0, 64))}` } } as const;
  if (/^\d{1,5}$/.test(raw)) {
    const n = Number(raw);
    return n >= 1 && n <= 65535 ? { port: n } : invalid;
  }
  const named = declared.find((cp) => cp.name === raw);
  return named === undefined ? invalid : { port: named.containerPort };
}

function portConflicts(pod: V1Pod, cfg: InjectionConfig, upstream: { port: number } | { problem: Finding }): Finding[] {
  const sidecarPorts = new Set([cfg.listenPort, cfg.adminPort]);
  const used = new Set(allContainers(pod).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)));
  if ("port" in upstream) used.add(upstream.port);
  const clashing = [...used].filter((p) => sidecarPorts.has(p)).sort((a, b) => a - b);
  return clashing.length === 0 ? [] : [{ reason: "port_conflict", detail: `port ${clashing.join(", ")} is the sidecar's listen or admin port` }];
}

function nameConflicts(pod: V1Pod): Finding[] {
  const taken = new Set(SIDECAR_VOLUME_NAMES as readonly string[]);
  const clashing = (pod.spec?.volumes ?? []).map((v) => v.name).filter((n) => taken.has(n));
  return clashing.length === 0 ? [] : [{ reason: "name_conflict", detail: `volume ${clashing.join(", ")}` }];
}
