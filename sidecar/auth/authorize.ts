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
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
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

export function authorize(
  principal: Principal,
  facts: RequestFacts,
  policies: readonly CompiledPolicy[],
  now: Date,
  opts: AuthorizeOptions,
): Decision {
  if (policies.length === 0) {
    if (opts.defaultAction === "Allow") return { allowed: true, ...DEFAULT_ALLOW };
    return { allowed: false, code: "NO_POLICY", reason: "No access policy selects this workload." };
  }
  for (const policy of policies) {
    for (const rule of policy.rules) {
      if (rule.action === "Deny" && ruleMatches(rule, principal, facts, now)) {
        const name = policyName(policy);
        return { allowed: false, code: "DENIED_BY_RULE", reason: `Denied by rule "${rule.name}" of policy ${name}.`, policy: name, rule: rule.name };
      }
    }
  }
  for (const policy of policies) {
    for (const rule of policy.rules) {
      if (rule.action === "Allow" && ruleMatches(rule, principal, facts, now)) {
        return { allowed: true, policy: policyName(policy), rule: rule.name };
      }
    }
  }
  return { allowed: false, code: "NO_MATCHING_RULE", reason: "No rule of the policies selecting this workload allows this request." };
}
