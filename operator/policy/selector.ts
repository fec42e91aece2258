import type { CompiledSelector } from "../api/compiled-policy.ts";
import type { LabelSelector, LabelSelectorRequirement } from "../api/v1alpha1/index.ts";
import { sortUniqueByJson, sortUniqueStrings } from "./canonical-json.ts";
import { Findings, quote } from "./findings.ts";
import { PROBLEM_REASONS as P } from "./reasons.ts";

const OPERATORS: readonly LabelSelectorRequirement["operator"][] = ["In", "NotIn", "Exists", "DoesNotExist"];
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/u;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/u;

/** Label selector with sorted labels, expressions and values; validated like metav1.LabelSelector. */
export function compileSelector(selector: LabelSelector, field: string, findings: Findings): CompiledSelector {
  const matchLabels: [string, string][] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!LABEL_KEY.test(key) || typeof value !== "string" || !LABEL_VALUE.test(value)) {
      findings.problem(P.InvalidSelector, `${field}.matchLabels`, `${quote(key)}: ${quote(value)} is not a valid label`);
    } else matchLabels.push([key, value]);
  }
  matchLabels.sort(([a], [b]) => (a < b ? -1 : 1));
  const expressions: Required<LabelSelectorRequirement>[] = [];
  (selector.matchExpressions ?? []).forEach((req, i) => {
    const compiled = compileRequirement(req, `${field}.matchExpressions[${i}]`, findings);
    if (compiled !== null) expressions.push(compiled);
  });
  return { matchLabels: Object.fromEntries(matchLabels), matchExpressions: sortUniqueByJson(expressions) };
}

function compileRequirement(req: LabelSelectorRequirement, field: string, findings: Findings): Required<LabelSelectorRequirement> | null {
  if (!LABEL_KEY.test(req.key)) {
    findings.problem(P.InvalidSelector, `${field}.key`, `${quote(req.key)} is not a valid label key`);
    return null;
  }
  if (!OPERATORS.includes(req.operator)) {
    findings.problem(P.InvalidSelector, `${field}.operator`, `${quote(req.operator)} is not one of ${OPERATORS.join(", ")}`);
    return null;
  }
  const values = req.values ?? [];
  const needsValues = req.operator === "In" || req.operator === "NotIn";
  if (needsValues !== values.length > 0) {
    findings.problem(
      P.InvalidSelector,
      `${field}.values`,
      needsValues ? `operator ${req.operator} needs one or more values` : `operator ${req.operator} takes no values`,
    );
    return null;
  }
  if (!values.every((v) => typeof v === "string" && LABEL_VALUE.test(v))) {
    findings.problem(P.InvalidSelector, `${field}.values`, "every value must be a valid label value");
    return null;
  }
  return { key: req.key, operator: req.operator, values: sortUniqueStrings(values) };
}
