/** `policiesFor(all, namespace, labels)`: the policies of the workload's namespace that select it (pure). */
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import { selects } from "../../operator/api/label-selector.ts";

export function policiesFor(all: Iterable<CompiledPolicy>, workloadNamespace: string, workloadLabels: Readonly<Record<string, string>>): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (const policy of all) {
    if (policy.namespace === workloadNamespace && selects(policy.selector, workloadLabels)) out.push(policy);
  }
  return out;
}
