/**
 * The desired SessionTermination status, pure. A termination finishes (Completed or Failed) exactly once; after
 * that only LATE acknowledgements change it: the counts grow, and a Failed one becomes Completed once every live
 * sidecar has answered (e.g. one that re-registered after a Redis restart). `desiredTerminationStatus` returns a
 * finished status untouched otherwise, which is what makes "finishes exactly once" hold across restarts and
 * leader changes (the status write is guarded by resourceVersion and recomputed from a fresh read on conflict).
 *
 *   Ready  False Pending                 not yet published (e.g. Redis unavailable: reason BusUnavailable)
 *          False Propagating             published; waiting for acknowledgements
 *          True  AllAcknowledged         every expected live sidecar acknowledged (phase Completed)
 *          False AcknowledgementTimeout  some never answered within the timeout (phase Failed; they are listed)
 *          False InvalidTarget           the target cannot be resolved (phase Failed)
 */
import { CONDITION_READY, formatConditionTime, setCondition } from "../api/conditions.ts";
import type { SessionTerminationStatus } from "../api/v1alpha1/index.ts";
import type { Ack } from "../api/bus/messages.ts";
import { MAX_UNRESPONSIVE_LISTED, type Progress } from "./termination-plan.ts";

export const TERMINATION_REASONS = {
  Pending: "Pending",
  BusUnavailable: "BusUnavailable",
  Propagating: "Propagating",
  AllAcknowledged: "AllAcknowledged",
  AcknowledgementTimeout: "AcknowledgementTimeout",
  InvalidTarget: "InvalidTarget",
} as const;

export function isFinished(status: SessionTerminationStatus | undefined): boolean {
  return status?.phase === "Completed" || status?.phase === "Failed";
}

/**
 * Whether these acknowledgements (of the termination's namespace) could raise a finished termination's counts:
 * more pods, sessions or connections than its status has. An upper bound of what `desiredTerminationStatus`
 * counts for a finished one (it counts only the acknowledging pods that were expected or are live), computed
 * from the status the cache keeps of a finished termination, without its plan.
 */
export function mayRaiseCounts(status: SessionTerminationStatus | undefined, acks: readonly Ack[]): boolean {
  let sessions = 0;
  let connections = 0;
  for (const a of acks) {
    sessions += a.sessionsTerminated;
    connections += a.connectionsClosed;
  }
  const pods = new Set(acks.map((a) => a.pod)).size;
  return pods > (status?.sidecarsAcknowledged ?? 0) || sessions > (status?.sessionsTerminated ?? 0) || connections > (status?.connectionsClosed ?? 0);
}

export function pendingStatus(
  current: SessionTerminationStatus | undefined,
  generation: number,
  reason: string,
  message: string,
  now: Date,
): SessionTerminationStatus {
  if (isFinished(current)) return current ?? {};
  return {
    ...current,
    observedGeneration: generation,
    phase: "Pending",
    conditions: setCondition(current?.conditions, { type: CONDITION_READY, status: "False", reason, message, observedGeneration: generation }, now),
  };
}

export function invalidTargetStatus(current: SessionTerminationStatus | undefined, generation: number, message: string, now: Date): SessionTerminationStatus {
  if (isFinished(current)) return current ?? {};
  return {
    ...current,
    observedGeneration: generation,
    phase: "Failed",
    completionTime: formatConditionTime(now),
    conditions: setCondition(
      current?.conditions,
      { type: CONDITION_READY, status: "False", reason: TERMINATION_REASONS.InvalidTarget, message, observedGeneration: generation },
      now,
    ),
  };
}

export interface PropagationFacts {
  /** The termination's namespace (sidecars are named `namespace/pod`). */
  namespace: string;
  generation: number;
  busRevision: number;
  startedAt: number;
  progress: Progress;
}

export function desiredTerminationStatus(current: SessionTerminationStatus | undefined, facts: PropagationFacts, now: Date): SessionTerminationStatus {
  if (isFinished(current)) return lateAcknowledgements(current ?? {}, facts, now);
  const { progress: p, generation } = facts;
  const goneNote = p.gone.length === 0 ? "" : `; ${p.gone.length} expected sidecar(s) went away before answering and were not waited for`;
  const next: SessionTerminationStatus = {
    observedGeneration: generation,
    phase: p.phase,
    busRevision: facts.busRevision,
    sessionsTerminated: p.sessionsTerminated,
    connectionsClosed: p.connectionsClosed,
    sidecarsAcknowledged: p.acknowledged,
    sidecarsExpected: p.expected,
    startTime: formatConditionTime(new Date(facts.startedAt)),
  };
  let condition: Parameters<typeof setCondition>[1];
  if (p.phase === "Completed") {
    next.completionTime = formatConditionTime(now);
    condition = {
      type: CONDITION_READY,
      status: "True",
      reason: TERMINATION_REASONS.AllAcknowledged,
      message: `${p.acknowledged} of ${p.expected} sidecar(s) acknowledged: ${p.sessionsTerminated} session(s) terminated, ${p.connectionsClosed} connection(s) closed${goneNote}`,
      observedGeneration: generation,
    };
  } else if (p.phase === "Failed") {
    next.completionTime = formatConditionTime(now);
    next.unresponsiveSidecars = p.waitingFor.slice(0, MAX_UNRESPONSIVE_LISTED).map((pod) => `${facts.namespace}/${pod}`);
    const more = p.waitingFor.length > MAX_UNRESPONSIVE_LISTED ? ` (first ${MAX_UNRESPONSIVE_LISTED} listed)` : "";
    condition = {
      type: CONDITION_READY,
      status: "False",
      reason: TERMINATION_REASONS.AcknowledgementTimeout,
      message: `${p.waitingFor.length} sidecar(s) never acknowledged within the timeout${more}: ${p.waitingFor.slice(0, 8).join(", ")}${p.waitingFor.length > 8 ? ", …" : ""}${goneNote}`,
      observedGeneration: generation,
    };
  } else {
    condition = {
      type: CONDITION_READY,
      status: "False",
      reason: TERMINATION_REASONS.Propagating,
      message: `published at bus revision ${facts.busRevision}; ${p.acknowledged} of ${p.expected} sidecar(s) acknowledged${goneNote}`,
      observedGeneration: generation,
    };
  }
  next.conditions = setCondition(current?.conditions, condition, now);
  return next;
}

/** A finished termination learns of acknowledgements that arrived after it finished. */
function lateAcknowledgements(current: SessionTerminationStatus, facts: PropagationFacts, now: Date): SessionTerminationStatus {
  const p = facts.progress;
  const grew =
    p.acknowledged > (current.sidecarsAcknowledged ?? 0) ||
    p.sessionsTerminated > (current.sessionsTerminated ?? 0) ||
    p.connectionsClosed > (current.connectionsClosed ?? 0);
  if (!grew) return current;
  const counts = {
    sessionsTerminated: Math.max(p.sessionsTerminated, current.sessionsTerminated ?? 0),
    connectionsClosed: Math.max(p.connectionsClosed, current.connectionsClosed ?? 0),
    sidecarsAcknowledged: Math.max(p.acknowledged, current.sidecarsAcknowledged ?? 0),
    sidecarsExpected: Math.max(p.expected, current.sidecarsExpected ?? 0),
  };
  if (current.phase === "Failed" && p.phase !== "Completed") return { ...current, ...counts };
  const rest = { ...current };
  delete rest.unresponsiveSidecars;
  return {
    ...rest,
    ...counts,
    phase: "Completed",
    ...(current.phase === "Failed" ? { completionTime: formatConditionTime(now) } : {}),
    conditions: setCondition(
      current.conditions,
      {
        type: CONDITION_READY,
        status: "True",
        reason: TERMINATION_REASONS.AllAcknowledged,
        message: `${counts.sidecarsAcknowledged} of ${counts.sidecarsExpected} sidecar(s) acknowledged: ${counts.sessionsTerminated} session(s) terminated, ${counts.connectionsClosed} connection(s) closed (including late acknowledgements)`,
        observedGeneration: facts.generation,
      },
      now,
    ),
  };
}
