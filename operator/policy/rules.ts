import type { CompiledRule } from "../api/compiled-policy.ts";
import type { AccessRule } from "../api/v1alpha1/index.ts";
import { canonicalJson, sortUniqueStrings } from "./canonical-json.ts";
import { canonicalCidr, cidrHasHostBits } from "../api/cidr.ts";
import { Findings, quote } from "./findings.ts";
import { compileIdentities } from "./identities.ts";
import { PROBLEM_REASONS as P, WARNING_REASONS as W } from "./reasons.ts";
import { compileRequests } from "./requests.ts";
import { compileSchedule } from "./schedule.ts";

const RULE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u;
const EMPTY_LIST = "an explicitly empty list matches nothing; omit the field to match any";

/** Compiles every rule; returns them deny-first, each group sorted by name. */
export function compileRules(rules: readonly AccessRule[], findings: Findings): CompiledRule[] {
  if (rules.length === 0) {
    findings.problem(P.NoRules, "spec.rules", "a policy needs at least one rule");
    return [];
  }
  const seen = new Set<string>();
  const compiled: CompiledRule[] = [];
  rules.forEach((rule, i) => {
    const field = `spec.rules[${i}]`;
    if (seen.has(rule.name)) {
      findings.problem(P.DuplicateRuleName, `${field}.name`, `rule name ${quote(rule.name)} is used more than once`);
    }
    seen.add(rule.name);
    const result = compileRule(rule, field, findings);
    if (result !== null) compiled.push(result);
  });
  const byName = (a: CompiledRule, b: CompiledRule): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return [...compiled.filter((r) => r.action === "Deny").sort(byName), ...compiled.filter((r) => r.action === "Allow").sort(byName)];
}

function compileRule(rule: AccessRule, field: string, findings: Findings): CompiledRule | null {
  const before = findings.problems.length;
  if (typeof rule.name !== "string" || !RULE_NAME.test(rule.name)) {
    findings.problem(P.InvalidRuleName, `${field}.name`, `${quote(rule.name)} is not a DNS-1123 label`);
  }
  const action: unknown = rule.action;
  if (action !== "Allow" && action !== "Deny") {
    findings.problem(P.InvalidAction, `${field}.action`, `${quote(rule.action)} is not Allow or Deny`);
  }
  const identities = compileIdentities(rule.identities ?? [], `${field}.identities`, findings);
  const { requests, dropped } = compileRequests(rule.requests ?? [], `${field}.requests`, findings);
  const sourceCIDRs = compileCidrs(rule.sourceCIDRs ?? [], `${field}.sourceCIDRs`, findings);
  const schedule = rule.schedule === undefined ? null : compileSchedule(rule.schedule, `${field}.schedule`, findings);
  checkExplicitlyEmpty(rule, field, findings);
  if (rule.requests !== undefined && rule.requests.length > 0 && dropped === rule.requests.length) {
    findings.problem(P.RuleNeverMatches, `${field}.requests`, `rule ${quote(rule.name)} can never match: none of its request entries can match anything`);
  }
  if (findings.problems.length !== before) return null;
  return { name: rule.name, action: rule.action, identities, requests, sourceCIDRs, schedule };
}

function checkExplicitlyEmpty(rule: AccessRule, field: string, findings: Findings): void {
  for (const key of ["identities", "requests", "sourceCIDRs"] as const) {
    if (rule[key]?.length === 0) {
      findings.problem(P.RuleNeverMatches, `${field}.${key}`, `rule ${quote(rule.name)} can never match: ${EMPTY_LIST}`);
    }
  }
}

function compileCidrs(list: readonly string[], field: string, findings: Findings): string[] {
  const out: string[] = [];
  list.forEach((raw, i) => {
    const cidr = typeof raw === "string" ? canonicalCidr(raw) : null;
    if (cidr === null) findings.problem(P.InvalidCIDR, `${field}[${i}]`, `${quote(raw)} is not an IPv4 or IPv6 CIDR`);
    else if (cidrHasHostBits(raw)) {
      findings.problem(P.InvalidCIDR, `${field}[${i}]`, `${quote(raw)} has host bits set: write the network (${cidr}) or a single host`);
    } else out.push(cidr);
  });
  return sortUniqueStrings(out);
}

function matchersOf(rule: CompiledRule): string {
  return canonicalJson({
    identities: rule.identities,
    requests: rule.requests,
    sourceCIDRs: rule.sourceCIDRs,
    schedule: rule.schedule,
  });
}

const MATCHES_EVERYTHING = matchersOf({
  name: "",
  action: "Deny",
  identities: [],
  requests: [],
  sourceCIDRs: [],
  schedule: null,
});

/** Warns about Allow rules that a Deny rule (identical matchers, or matching everything) always overrides. */
export function warnShadowedRules(rules: readonly CompiledRule[], fieldOf: (ruleName: string) => string, findings: Findings): void {
  const denies = rules.filter((r) => r.action === "Deny");
  for (const allow of rules.filter((r) => r.action === "Allow")) {
    const key = matchersOf(allow);
    const shadow = denies.find((deny) => {
      const denyKey = matchersOf(deny);
      return denyKey === key || denyKey === MATCHES_EVERYTHING;
    });
    if (shadow !== undefined) {
      findings.warn(
        W.RuleShadowed,
        fieldOf(allow.name),
        `Allow rule ${quote(allow.name)} never takes effect: Deny rule ${quote(shadow.name)} matches everything it matches (deny wins)`,
      );
    }
  }
}
