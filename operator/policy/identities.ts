import type { CompiledIdentity } from "../api/compiled-policy.ts";
import type { IdentityMatch } from "../api/v1alpha1/index.ts";
import { sortUniqueByJson, sortUniqueStrings } from "./canonical-json.ts";
import { Findings, isCleanString, quote } from "./findings.ts";
import { isHostName } from "./hosts.ts";
import { PROBLEM_REASONS as P } from "./reasons.ts";

const KINDS = ["subject", "email", "emailDomain", "group", "claim"] as const;
const EMAIL = /^[^@\s]+@[^@\s]+$/u;

/**
 * Compiles an identity any-of list: emails and domains lower-cased, claims with the same name merged
 * (any-of semantics make the union equivalent), everything de-duplicated and sorted.
 */
export function compileIdentities(list: readonly IdentityMatch[], field: string, findings: Findings): CompiledIdentity[] {
  const out: CompiledIdentity[] = [];
  list.forEach((match, i) => {
    const compiled = compileIdentity(match, `${field}[${i}]`, findings);
    if (compiled !== null) out.push(compiled);
  });
  return sortUniqueByJson(mergeClaims(out));
}

function compileIdentity(match: IdentityMatch, field: string, findings: Findings): CompiledIdentity | null {
  const set = KINDS.filter((k) => (match as Record<string, unknown>)[k] !== undefined);
  const kind = set[0];
  if (set.length !== 1 || kind === undefined) {
    findings.problem(P.InvalidIdentity, field, `exactly one of ${KINDS.join(", ")} must be set (found ${set.length})`);
    return null;
  }
  if (kind === "claim") return compileClaim(match.claim, `${field}.claim`, findings);
  const raw = match[kind];
  if (!isCleanString(raw)) {
    findings.problem(P.InvalidIdentity, `${field}.${kind}`, `${kind} must be a non-empty string without control characters`);
    return null;
  }
  if (kind === "email") {
    if (!EMAIL.test(raw)) {
      findings.problem(P.InvalidIdentity, `${field}.email`, `${quote(raw)} is not an email address`);
      return null;
    }
    return { kind, value: raw.toLowerCase() };
  }
  if (kind === "emailDomain") {
    const domain = (raw.startsWith("@") ? raw.slice(1) : raw).toLowerCase();
    if (!isHostName(domain)) {
      findings.problem(P.InvalidIdentity, `${field}.emailDomain`, `${quote(raw)} is not a domain name`);
      return null;
    }
    return { kind, value: domain };
  }
  return { kind, value: raw };
}

function compileClaim(claim: IdentityMatch["claim"], field: string, findings: Findings): CompiledIdentity | null {
  if (claim === undefined || !isCleanString(claim.name)) {
    findings.problem(P.InvalidIdentity, `${field}.name`, "claim name must be a non-empty string");
    return null;
  }
  if (!Array.isArray(claim.values) || claim.values.length === 0 || !claim.values.every(isCleanString)) {
    findings.problem(P.InvalidIdentity, `${field}.values`, `claim ${quote(claim.name)} needs one or more non-empty values`);
    return null;
  }
  return { kind: "claim", name: claim.name, values: sortUniqueStrings(claim.values) };
}

function mergeClaims(list: readonly CompiledIdentity[]): CompiledIdentity[] {
  const claims = new Map<string, string[]>();
  const others: CompiledIdentity[] = [];
  for (const identity of list) {
    if (identity.kind === "claim") claims.set(identity.name, [...(claims.get(identity.name) ?? []), ...identity.values]);
    else others.push(identity);
  }
  const merged: CompiledIdentity[] = [...claims.entries()].map(([name, values]) => ({
    kind: "claim",
    name,
    values: sortUniqueStrings(values),
  }));
  return [...others, ...merged];
}
