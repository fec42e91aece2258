import type { CompiledSelector } from "../api/compiled-policy.ts";

/**
 * metav1.LabelSelector semantics over a compiled selector, pure: every `matchLabels` entry must be equal and
 * every expression must hold (`In`: present with one of the values; `NotIn`: absent or none of the values;
 * `Exists` / `DoesNotExist`). An empty selector selects everything (as an AccessPolicy's selector does).
 * The operator's own matcher: the operator never imports sidecar code.
 */
export function selectorMatches(selector: CompiledSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((req) => {
    const present = Object.hasOwn(labels, req.key);
    const value = present ? labels[req.key] : undefined;
    switch (req.operator) {
      case "In":
        return value !== undefined && req.values.includes(value);
      case "NotIn":
        return value === undefined || !req.values.includes(value);
      case "Exists":
        return present;
      case "DoesNotExist":
        return !present;
      default:
        return false;
    }
  });
}
