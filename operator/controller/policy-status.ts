/**
 * The desired AccessPolicy status, pure: from the current status and what one reconcile observed (compile
 * result, bus outcome, sidecar counts, pods) to the next status. Conditions (KEP-1623, via api/conditions.ts so
 * `lastTransitionTime` moves only on a status flip):
 *
 *   Accepted  True  Accepted                    the spec compiled (warnings are listed in the message)
 *             False <first problem's reason>    every problem listed (`field: message; …`)
 *   Ready     True  Published                   on the bus at `busRevision`; message says E of S sidecars enforce it
 *             False Rejected | BusUnavailable   not published (invalid), or Redis refused the write/removal
 *   Degraded  True  <first warning's reason> | NoMatchingPods   published, but probably not what was meant
 *             False AsExpected
 *
 * See docs/decisions/reconcile-0001-accesspolicy-status.md.
 */
import { CONDITION_ACCEPTED, CONDITION_READY, setCondition } from "../api/conditions.ts";
import type { AccessPolicyStatus, Condition } from "../api/v1alpha1/index.ts";
import type { Problem } from "../policy/compile.ts";

export const CONDITION_DEGRADED = "Degraded";

export const POLICY_REASONS = {
  Accepted: "Accepted",
  Published: "Published",
  Rejected: "Rejected",
  BusUnavailable: "BusUnavailable",
  NoMatchingPods: "NoMatchingPods",
  AsExpected: "AsExpected",
} as const;

const MAX_MESSAGE = 1024;

export type BusOutcome = { ok: true; revision: number } | { ok: false; error: string };

export interface PolicyObservation {
  generation: number;
  /** Problems stop publication; empty means the spec compiled. */
  problems: readonly Problem[];
  warnings: readonly Problem[];
  /** Outcome of publishing (valid) or removing (invalid) the policy on the bus. */
  bus: BusOutcome;
  /** Live sidecars selected / enforcing the published revision; absent when unknown. */
  sidecars?: { selected: number; enforcing: number } | undefined;
  /** Whether any pod in the namespace matches the selector; absent when unknown. */
  matchesPods?: boolean | undefined;
}

/** `field: message; field: message` cut to 1 KiB. */
export function listFindings(findings: readonly Problem[]): string {
  const text = findings.map((f) => `${f.field}: ${f.message}`).join("; ");
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

export function desiredPolicyStatus(current: AccessPolicyStatus | undefined, obs: PolicyObservation, now: Date): AccessPolicyStatus {
  const accepted = obs.problems.length === 0;
  let conditions: Condition[] = setCondition(current?.conditions, acceptedCondition(obs), now);
  conditions = setCondition(conditions, readyCondition(obs, accepted), now);
  conditions = setCondition(conditions, degradedCondition(obs, accepted), now);
  const next: AccessPolicyStatus = { observedGeneration: obs.generation, conditions };
  if (!accepted) return next;
  // Published now: the new counts. Redis refused the write: what was published before (if anything) still holds.
  const counts: AccessPolicyStatus = obs.bus.ok
    ? {
        busRevision: obs.bus.revision,
        selectedSidecars: obs.sidecars?.selected ?? current?.selectedSidecars ?? 0,
        enforcingSidecars: obs.sidecars?.enforcing ?? current?.enforcingSidecars ?? 0,
      }
    : pickCounts(current);
  return { ...next, ...counts };
}

function pickCounts(current: AccessPolicyStatus | undefined): AccessPolicyStatus {
  const out: AccessPolicyStatus = {};
  if (current?.busRevision !== undefined) out.busRevision = current.busRevision;
  if (current?.selectedSidecars !== undefined) out.selectedSidecars = current.selectedSidecars;
  if (current?.enforcingSidecars !== undefined) out.enforcingSidecars = current.enforcingSidecars;
  return out;
}

function acceptedCondition(obs: PolicyObservation): Parameters<typeof setCondition>[1] {
  const first = obs.problems[0];
  if (first !== undefined) {
    return { type: CONDITION_ACCEPTED, status: "False", reason: first.reason, message: listFindings(obs.problems), observedGeneration: obs.generation };
  }
  return {
    type: CONDITION_ACCEPTED,
    status: "True",
    reason: POLICY_REASONS.Accepted,
    message:
      obs.warnings.length === 0
        ? "the policy compiled without problems"
        : `the policy compiled with ${obs.warnings.length} warning(s): ${listFindings(obs.warnings)}`,
    observedGeneration: obs.generation,
  };
}

function readyCondition(obs: PolicyObservation, accepted: boolean): Parameters<typeof setCondition>[1] {
  const g = obs.generation;
  if (!obs.bus.ok) {
    return {
      type: CONDITION_READY,
      status: "False",
      reason: POLICY_REASONS.BusUnavailable,
      message: accepted
        ? `the policy bus (Redis) did not accept the policy; retrying: ${obs.bus.error}`
        : `the policy is rejected and could not be removed from the policy bus (Redis); retrying: ${obs.bus.error}`,
      observedGeneration: g,
    };
  }
  if (!accepted) {
    return {
      type: CONDITION_READY,
      status: "False",
      reason: POLICY_REASONS.Rejected,
      message: "the policy is not accepted, so it is not published (see Accepted)",
      observedGeneration: g,
    };
  }
  const counts = obs.sidecars === undefined ? "" : `; ${obs.sidecars.enforcing} of ${obs.sidecars.selected} selected live sidecar(s) enforce it`;
  return {
    type: CONDITION_READY,
    status: "True",
    reason: POLICY_REASONS.Published,
    message: `published at bus revision ${obs.bus.revision}${counts}`,
    observedGeneration: g,
  };
}

function degradedCondition(obs: PolicyObservation, accepted: boolean): Parameters<typeof setCondition>[1] {
  const g = obs.generation;
  const findings: Problem[] = [...obs.warnings];
  const firstWarning = findings[0];
  const reasons: string[] = firstWarning === undefined ? [] : [firstWarning.reason];
  const messages: string[] = findings.length === 0 ? [] : [listFindings(findings)];
  if (accepted && obs.matchesPods === false) {
    reasons.push(POLICY_REASONS.NoMatchingPods);
    messages.push("spec.selector: the selector matches no pod in the namespace");
  }
  const reason = reasons[0];
  if (reason === undefined) {
    return { type: CONDITION_DEGRADED, status: "False", reason: POLICY_REASONS.AsExpected, message: "no warnings", observedGeneration: g };
  }
  const message = messages.join("; ");
  return {
    type: CONDITION_DEGRADED,
    status: "True",
    reason,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
    observedGeneration: g,
  };
}

/** Ready=False/BusUnavailable while deleting: the finalizer stays until the bus removal succeeds. */
export function deletionBlockedStatus(current: AccessPolicyStatus | undefined, generation: number, error: string, now: Date): AccessPolicyStatus {
  const conditions = setCondition(
    current?.conditions,
    {
      type: CONDITION_READY,
      status: "False",
      reason: POLICY_REASONS.BusUnavailable,
      message: `deleting: the policy could not be removed from the policy bus (Redis), so the finalizer stays; retrying: ${error}`,
      observedGeneration: generation,
    },
    now,
  );
  return { ...current, conditions };
}
