/**
 * Kubernetes label-selector semantics over a compiled selector (pure), shared by the operator (which sidecars a
 * policy selects) and the sidecar (which policies select it): every matchLabels pair must be present and equal,
 * and every expression must hold — `In` (key present, value listed), `NotIn` (key absent or value not listed),
 * `Exists`, `DoesNotExist`. An empty selector selects everything. An unknown operator (a rogue bus writer)
 * selects nothing.
 */
import type { CompiledSelector } from "./compiled-policy.ts";

export function selects(selector: CompiledSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((req) => {
    const present = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case "In":
        return present && value !== undefined && req.values.includes(value);
      case "NotIn":
        return !present || value === undefined || !req.values.includes(value);
      case "Exists":
        return present;
      case "DoesNotExist":
        return !present;
      default:
        return false;
    }
  });
}
