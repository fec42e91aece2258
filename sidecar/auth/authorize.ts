/**
 * The authorization decision for one request or new flow (pure, no I/O, no clock of its own).
 *
 * Contract: `authorize(principal, facts, policies, now, opts)` where `policies` are already the
 * ones selecting this workload (see sidecar/policy/selector.ts).
 *   - no policy → `opts.defaultAction` (deny: `NO_POLICY`);
 *   - any matching Deny rule in any policy → `DENIED_BY_RULE`, naming `ns/name` and the rule
 *     (deny wins over allow across all policies; the first in the given order is named);
 *   - else the first matching Allow rule → allowed, naming policy and rule;
 *   - else `NO_MATCHING_RULE`.
 * Rule matching is in rule-match.ts (fail-safe by action).
 */
import type { CompiledPolicy, CompiledRule } from "../../operator/api/compiled-policy.ts";
import { ruleMatches } from "./rule-match.ts";
import type { Decision, Principal, RequestFacts } from "./types.ts";

export interface AuthorizeOptions {
  defaultAction: "Allow" | "Deny";
}

/** Policy and rule names used when the default action allows a request. */
export const DEFAULT_ALLOW = { policy: "(none)", rule: "(default-allow)" } as const;

export function policyName(policy: Pick<CompiledPolicy, "namespace" | "name">): string {
  return `${policy.namespace}/${policy.name}`;
}

export function authorize(principal: Principal, facts: RequestFacts, policies: readonly CompiledPolicy[], now: Date, opts: AuthorizeOptions): Decision {
  if (policies.length === 0) {
    if (opts.defaultAction === "Allow") return { allowed: true, ...DEFAULT_ALLOW };
    return { allowed: false, code: "NO_POLICY", reason: "No access policy selects this workload." };
  }
  // Indexed loops: this runs for every request, over every rule of every selecting policy.
  for (let p = 0; p < policies.length; p++) {
    const policy = policies[p] as CompiledPolicy;
    for (let r = 0; r < policy.rules.length; r++) {
      const rule = policy.rules[r] as CompiledRule;
      if (rule.action === "Deny" && ruleMatches(rule, principal, facts, now)) return decisionOf(policy, rule);
    }
  }
  for (let p = 0; p < policies.length; p++) {
    const policy = policies[p] as CompiledPolicy;
    for (let r = 0; r < policy.rules.length; r++) {
      const rule = policy.rules[r] as CompiledRule;
      if (rule.action === "Allow" && ruleMatches(rule, principal, facts, now)) return decisionOf(policy, rule);
    }
  }
  return NO_MATCHING_RULE;
}

const NO_MATCHING_RULE: Decision = Object.freeze({
  allowed: false,
  code: "NO_MATCHING_RULE",
  reason: "No rule of the policies selecting this workload allows this request.",
});

/**
 * A rule's decision depends on its policy and itself only: one frozen object per rule, built on first use (policies
 * and rules are the view's objects, replaced, never mutated, when the bus changes them).
 */
const decisions = new WeakMap<CompiledRule, { policy: CompiledPolicy; decision: Decision }>();

function decisionOf(policy: CompiledPolicy, rule: CompiledRule): Decision {
  const cached = decisions.get(rule);
  if (cached?.policy === policy) return cached.decision;
  const name = policyName(policy);
  const decision: Decision = Object.freeze(
    rule.action === "Deny"
      ? { allowed: false, code: "DENIED_BY_RULE", reason: `Denied by rule "${rule.name}" of policy ${name}.`, policy: name, rule: rule.name }
      : { allowed: true, policy: name, rule: rule.name },
  );
  decisions.set(rule, { policy, decision });
  return decision;
}
