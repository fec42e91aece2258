import { canonicalJson } from "./canonical-json.ts";
import type { Problem, ProblemReason, WarningReason } from "./reasons.ts";

/** Collects problems (policy rejected) and warnings (policy published) while compiling. */
export class Findings {
  readonly problems: Problem[] = [];
  readonly warnings: Problem[] = [];

  problem(reason: ProblemReason, field: string, message: string): void {
    this.problems.push({ reason, field, message });
  }

  warn(reason: WarningReason, field: string, message: string): void {
    this.warnings.push({ reason, field, message });
  }
}

/** True when the text contains a C0 control character or DEL. */
export function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
const MAX_VALUE_LENGTH = 1024;

/** A non-empty string of bounded length with no control characters. */
export function isCleanString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_VALUE_LENGTH && !hasControlChars(value);
}

/** Short, safe rendering of user input inside a message. */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : canonicalJson(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
