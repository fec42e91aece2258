import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { tryParseDuration } from "../api/duration.ts";
import type { AccessPolicy, FailureMode } from "../api/v1alpha1/index.ts";
import { canonicalJson, sha256Hex } from "./canonical-json.ts";
import { Findings, isCleanString, quote } from "./findings.ts";
import { PROBLEM_REASONS as P, WARNING_REASONS as W, type Problem } from "./reasons.ts";
import { compileProtections } from "./protections.ts";
import { compileRules, warnShadowedRules } from "./rules.ts";
import { compileSelector } from "./selector.ts";

/**
 * compileAccessPolicy: AccessPolicy → CompiledPolicy, pure and deterministic.
 *
 * - Defaults: idle 30m, absolute 8h, failureMode Strict, schedule time zone UTC; session protections Off, their
 *   parameters defaulted (protections.ts), and no `protections` at all when the policy sets none.
 * - Normalisation: emails/hosts/domains lower-cased; methods upper-cased, sorted, unique; paths parsed
 *   (`*` any, `/a/*` prefix `/a/`, else exact); CIDRs canonical; every list de-duplicated and sorted;
 *   deny rules first then allow rules, each sorted by name; schedule times in minutes.
 * - `hash`: SHA-256 hex of the canonical JSON (sorted keys) of the compiled policy without `hash`,
 *   so the same generation of the same spec always hashes the same, whatever the input order.
 * - Semantic problems the CRD schema cannot catch are returned as `problems` (the policy must not be
 *   published; Accepted=False with the first problem's reason) or `warnings` (published anyway).
 * Never throws on any input shaped like the CRD type.
 */
export type CompileResult = { ok: true; policy: CompiledPolicy; warnings: Problem[] } | { ok: false; problems: Problem[]; warnings: Problem[] };

export { ALL_REASONS, PROBLEM_REASONS, WARNING_REASONS, type Problem } from "./reasons.ts";

const DEFAULT_IDLE = "30m";
const DEFAULT_ABSOLUTE = "8h";
const FAILURE_MODES: readonly FailureMode[] = ["Strict", "BestEffort"];

export function compileAccessPolicy(ap: AccessPolicy): CompileResult {
  const findings = new Findings();
  const { namespace, name } = ap.metadata;
  if (!isCleanString(namespace) || !isCleanString(name)) {
    findings.problem(P.InvalidMetadata, "metadata", "metadata.namespace and metadata.name are required");
  }
  const selector = compileSelector(ap.spec.selector, "spec.selector", findings);
  const rules = compileRules(ap.spec.rules, findings);
  const session = compileSession(ap.spec.session, findings);
  const failureMode = ap.spec.failureMode ?? "Strict";
  if (!FAILURE_MODES.includes(failureMode)) {
    findings.problem(P.InvalidFailureMode, "spec.failureMode", `${quote(failureMode)} is not one of ${FAILURE_MODES.join(", ")}`);
  }
  if (findings.problems.length > 0 || session === null) {
    return { ok: false, problems: findings.problems, warnings: findings.warnings };
  }
  const indexByName = new Map(ap.spec.rules.map((r, i) => [r.name, i]));
  warnShadowedRules(rules, (ruleName) => `spec.rules[${indexByName.get(ruleName) ?? -1}]`, findings);
  if (!rules.some((r) => r.action === "Allow")) {
    findings.warn(W.NoAllowRule, "spec.rules", "the policy has no Allow rule: it denies every request to the workloads it selects");
  }
  const unhashed: Omit<CompiledPolicy, "hash"> = {
    v: 1,
    namespace: namespace ?? "",
    name: name ?? "",
    uid: ap.metadata.uid ?? "",
    generation: ap.metadata.generation ?? 0,
    selector,
    rules,
    session,
    failureMode,
  };
  return { ok: true, policy: { ...unhashed, hash: hashCompiledPolicy(unhashed) }, warnings: findings.warnings };
}

/** The content hash of a compiled policy (everything except `hash` itself). */
export function hashCompiledPolicy(policy: Omit<CompiledPolicy, "hash"> & { hash?: string }): string {
  return sha256Hex(canonicalJson({ ...policy, hash: undefined }));
}

function compileSession(session: AccessPolicy["spec"]["session"], findings: Findings): CompiledPolicy["session"] | null {
  const idle = durationSeconds(session?.idleTimeout ?? DEFAULT_IDLE, "spec.session.idleTimeout", findings);
  const absolute = durationSeconds(session?.absoluteTimeout ?? DEFAULT_ABSOLUTE, "spec.session.absoluteTimeout", findings);
  const protections = compileProtections(session, findings);
  if (idle === null || absolute === null) return null;
  if (idle > absolute) {
    findings.problem(
      P.IdleExceedsAbsolute,
      "spec.session.idleTimeout",
      `idleTimeout (${idle}s) is longer than absoluteTimeout (${absolute}s), so it could never apply`,
    );
    return null;
  }
  return { idleTimeoutSeconds: idle, absoluteTimeoutSeconds: absolute, ...(protections === undefined ? {} : { protections }) };
}

function durationSeconds(text: string, field: string, findings: Findings): number | null {
  const parsed = tryParseDuration(text);
  if (!parsed.ok) {
    findings.problem(P.InvalidDuration, field, parsed.error.message);
    return null;
  }
  if (parsed.seconds <= 0 || !Number.isInteger(parsed.seconds)) {
    findings.problem(P.InvalidDuration, field, `${quote(text)} must be a positive whole number of seconds`);
    return null;
  }
  return parsed.seconds;
}
