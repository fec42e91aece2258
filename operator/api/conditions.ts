import type { Condition } from "./v1alpha1/index.ts";

/**
 * Pure KEP-1623 condition helpers (metav1.Condition semantics).
 *
 * Contract: `setCondition` upserts by `type` and returns a NEW array (the input is never mutated);
 * `lastTransitionTime` moves only when `status` changes; `reason`, `message` and `observedGeneration`
 * always take the new values. Order of existing conditions is preserved; new types are appended.
 * Times are RFC 3339 with second precision (as the API server stores metav1.Time).
 */

export const CONDITION_ACCEPTED = "Accepted";
export const CONDITION_READY = "Ready";

export interface ConditionUpdate {
  type: string;
  status: Condition["status"];
  /** CamelCase. */
  reason: string;
  message: string;
  observedGeneration: number;
}

/** RFC 3339, second precision, UTC (`2026-01-02T03:04:05Z`). */
export function formatConditionTime(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

export function setCondition(list: readonly Condition[] | undefined, update: ConditionUpdate, now: Date): Condition[] {
  const current = list ?? [];
  const existing = current.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration: update.observedGeneration,
    lastTransitionTime: existing !== undefined && existing.status === update.status ? existing.lastTransitionTime : formatConditionTime(now),
    reason: update.reason,
    message: update.message,
  };
  if (existing === undefined) return [...current.map((c) => ({ ...c })), next];
  return current.map((c) => (c.type === update.type ? next : { ...c }));
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(list, type)?.status === "True";
}

/** True when both lists hold the same conditions (order-insensitive): lets callers skip no-op status patches. */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  return left.every((c) => {
    const other = right.find((o) => o.type === c.type);
    return (
      other !== undefined &&
      other.status === c.status &&
      other.reason === c.reason &&
      other.message === c.message &&
      other.observedGeneration === c.observedGeneration &&
      other.lastTransitionTime === c.lastTransitionTime
    );
  });
}
