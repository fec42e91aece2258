/**
 * Kubernetes label-selector semantics for compiled policies (pure).
 *
 * `selects(selector, labels)`: every matchLabels pair must be present and equal, and every
 * expression must hold — `In` (key present, value listed), `NotIn` (key absent or value not
 * listed), `Exists`, `DoesNotExist`. An empty selector selects everything. An unknown operator
 * (a rogue bus writer) selects nothing.
 * `policiesFor(all, namespace, labels)`: the policies of the workload's namespace that select it.
 */
import type { CompiledPolicy, CompiledSelector } from "../../operator/api/compiled-policy.ts";

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

export function policiesFor(
  all: Iterable<CompiledPolicy>,
  workloadNamespace: string,
  workloadLabels: Readonly<Record<string, string>>,
): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (const policy of all) {
    if (policy.namespace === workloadNamespace && selects(policy.selector, workloadLabels)) out.push(policy);
  }
  return out;
}
