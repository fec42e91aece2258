/**
 * One admission request in, one answer out (no HTTP here; server.ts does the transport, metrics and logs).
 *
 * Contract of `handleAdmission(body, deps)`: never throws. A malformed review → `{status: 400, body: {code,
 * message}}`. Anything that is not a Pod CREATE → allowed unchanged. Otherwise the namespace labels are read through
 * `deps.namespaceLabels` (a failure → a 500-coded refusal: with failurePolicy Fail the pod is not admitted
 * unprotected; the exception is kept as the outcome's `cause` for the server to log) and `injectionDecision`
 * decides:
 *   inject → the JSON patch from the pod to `inject(pod)`;
 *   skip   → the patch recording `vigil.dev/injection-status: skipped: <reasons>` (with a warning when the pod runs
 *            unprotected in an opted-in scope); pods of protected namespaces and pods that already have the sidecar
 *            are admitted untouched (no patch: injecting an injected pod is a no-op);
 *   refuse → denied, with a message that says why and how to fix it.
 * An exception while deciding → a 500-coded refusal, the exception kept as the outcome's `cause`.
 * `outcome` says what happened, for the log and the metrics; nothing is logged here.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { ADMISSION_ERROR_STATUS } from "../errors.ts";
import {
  allowed,
  decodeAdmissionReview,
  denied,
  errored,
  patched,
  podOf,
  reviewResponse,
  type AdmissionError,
  type AdmissionRequest,
  type AdmissionResponse,
} from "./admission.ts";
import type { InjectionConfig } from "./config.ts";
import { injectionDecision, type InjectionDecision, type Reason } from "./decision.ts";
import { inject, recordSkip } from "./inject.ts";
import { jsonPatch } from "./patch.ts";

export type Result = "injected" | "skipped" | "refused" | "error";

export interface Outcome {
  result: Result;
  /** Metric label: the first reason code, or an error code. */
  reason: Reason | "namespace_lookup_failed" | "internal_error";
  reasons: readonly string[];
  namespace: string;
  /** The pod's name, or its generateName (pods of a ReplicaSet have no name yet at admission). */
  pod: string;
  dryRun: boolean;
  /** For `result: "error"`: the exception behind it (logged by the server, never sent). */
  cause?: unknown;
}

export interface HandlerDeps {
  config: InjectionConfig;
  /** Labels of a namespace (undefined when it does not exist); may throw. */
  namespaceLabels: (name: string) => Promise<Readonly<Record<string, string>> | undefined>;
}

export interface HandlerAnswer {
  status: number;
  body: unknown;
  outcome?: Outcome;
}

export const REFUSAL_PREFIX = "vigil: this pod must run behind the Vigil sidecar but cannot be injected";

const isPodCreate = (r: AdmissionRequest): boolean =>
  r.operation === "CREATE" && r.resource.group === "" && r.resource.resource === "pods" && r.subResource === "";

export async function handleAdmission(body: Buffer | string, deps: HandlerDeps): Promise<HandlerAnswer> {
  const decoded = decodeAdmissionReview(body);
  if (!decoded.ok) return refusal(decoded.error);
  const request = decoded.value;
  const answer = (response: AdmissionResponse, outcome?: Outcome): HandlerAnswer => ({
    status: 200,
    body: reviewResponse(request.uid, response),
    ...(outcome === undefined ? {} : { outcome }),
  });
  if (!isPodCreate(request)) return answer(allowed());
  const pod = podOf(request);
  if (!pod.ok) return refusal(pod.error);
  const base = {
    namespace: request.namespace,
    pod: pod.value.metadata?.name ?? pod.value.metadata?.generateName ?? request.name,
    dryRun: request.dryRun,
  };
  let labels: Readonly<Record<string, string>> | undefined;
  try {
    labels = await deps.namespaceLabels(request.namespace);
  } catch (cause) {
    const message = `vigil: cannot read the labels of namespace ${request.namespace} to decide on sidecar injection; retry`;
    return answer(errored(500, message), { ...base, result: "error", reason: "namespace_lookup_failed", reasons: [], cause });
  }
  try {
    const decision = injectionDecision(pod.value, { name: request.namespace, labels }, deps.config);
    return answer(respond(pod.value, decision, deps.config), { ...base, ...outcomeOf(decision) });
  } catch (cause) {
    return answer(errored(500, "vigil: internal error while injecting the sidecar"), {
      ...base,
      result: "error",
      reason: "internal_error",
      reasons: [],
      cause,
    });
  }
}

/** A malformed request: its HTTP status and `{code, message}` (the cause, which may quote the input, stays out). */
function refusal(error: AdmissionError): HandlerAnswer {
  return { status: ADMISSION_ERROR_STATUS[error.code], body: { code: error.code, message: error.message } };
}

function outcomeOf(decision: InjectionDecision): Pick<Outcome, "result" | "reason" | "reasons"> {
  const result: Result = decision.action === "inject" ? "injected" : decision.action === "skip" ? "skipped" : "refused";
  return { result, reason: decision.reasons[0] ?? "internal_error", reasons: decision.reasons };
}

const UNPROTECTED_SKIPS: readonly Reason[] = ["pod_opted_out", "host_network"];
/** Admitted exactly as they are: system namespaces are never touched; an injected pod keeps its `injected` record. */
const UNTOUCHED_SKIPS: readonly Reason[] = ["protected_namespace", "already_injected"];

function respond(pod: V1Pod, decision: InjectionDecision, cfg: InjectionConfig): AdmissionResponse {
  switch (decision.action) {
    case "inject":
      return patched(jsonPatch(pod, inject(pod, cfg)));
    case "refuse":
      return denied(`${REFUSAL_PREFIX}: ${decision.message}`);
    case "skip": {
      if (UNTOUCHED_SKIPS.some((r) => decision.reasons.includes(r))) return allowed();
      const warnings = decision.reasons.some((r) => UNPROTECTED_SKIPS.includes(r))
        ? [`vigil: this pod runs WITHOUT the Vigil sidecar: ${decision.message}`]
        : [];
      return patched(jsonPatch(pod, recordSkip(pod, decision)), warnings);
    }
  }
}
