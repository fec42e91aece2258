/** AccessPolicy rules in words, for people reading the console's policies page. Pure. */
import type { CompiledSelector } from "../operator/api/compiled-policy.ts";
import type { AccessRule, IdentityMatch, RequestMatch } from "../operator/api/v1alpha1/access-policy.ts";
import type { LabelSelector } from "../operator/api/v1alpha1/meta.ts";

/** `a, b or c`; with `;` as separator (clauses that contain commas): `a; b; or c`. */
function list(items: readonly string[], joiner: "or" | ";" = "or"): string {
  if (items.length <= 1) return items[0] ?? "";
  const last = items[items.length - 1] ?? "";
  return joiner === ";" ? `${items.slice(0, -1).join("; ")}; or ${last}` : `${items.slice(0, -1).join(", ")} or ${last}`;
}

function identity(m: IdentityMatch): string {
  if (m.subject !== undefined) return `subject ${m.subject}`;
  if (m.email !== undefined) return m.email;
  if (m.emailDomain !== undefined) return `anyone @${m.emailDomain}`;
  if (m.group !== undefined) return `members of ${m.group}`;
  if (m.claim !== undefined) return `tokens whose ${m.claim.name} is ${list(m.claim.values)}`;
  return "anyone";
}

function request(r: RequestMatch): string {
  const methods = r.methods === undefined ? "any method" : list(r.methods);
  const parts = [methods];
  if (r.paths !== undefined) parts.push(r.paths.includes("*") ? "on any path" : `on ${list(r.paths)}`);
  if (r.hosts !== undefined) parts.push(`for host ${list(r.hosts)}`);
  if (r.ports !== undefined) parts.push(`to port ${list(r.ports.map(String))}`);
  return parts.join(" ");
}

export function ruleInWords(rule: AccessRule): string {
  const who = rule.identities === undefined ? "any authenticated user" : list(rule.identities.map(identity));
  const what = rule.requests === undefined ? "anything" : list(rule.requests.map(request), ";");
  const from = rule.sourceCIDRs === undefined ? "" : ` from ${list(rule.sourceCIDRs)}`;
  const when =
    rule.schedule === undefined
      ? ""
      : ` during ${list(rule.schedule.windows.map((w) => `${w.days === undefined ? "every day" : w.days.join(",")} ${w.start}–${w.end}`))} (${rule.schedule.timeZone ?? "UTC"})`;
  return `${rule.action === "Deny" ? "Deny" : "Allow"} ${who}: ${what}${from}${when}`;
}

export function selectorInWords(s: LabelSelector): string {
  const labels = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const exprs = (s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values === undefined ? "" : ` (${e.values.join(", ")})`}`);
  const all = [...labels, ...exprs];
  return all.length === 0 ? "every pod of the namespace" : `pods with ${all.join(", ")}`;
}

export const compiled = (s: LabelSelector): CompiledSelector => ({
  matchLabels: s.matchLabels ?? {},
  matchExpressions: (s.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })),
});
