/**
 * What a zod schema found wrong with untrusted input, as the one sentence that configuration errors and refusals
 * carry: the first issue, its field named as a path (`redis.secretKey`, `trustedProxies[1]`, `request.uid`).
 * An unknown key (a strict object's `unrecognized_keys`) is named itself: `timeouts.headerMs`.
 */
import type { z } from "zod";

export interface Problem {
  /** Dotted path of the bad field; "" for the document itself. */
  path: string;
  message: string;
}

export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((segment, i) => (typeof segment === "number" ? `[${segment}]` : i === 0 ? String(segment) : `.${String(segment)}`)).join("");
}

export function firstProblem(error: z.ZodError): Problem {
  const issue = error.issues[0];
  if (issue === undefined) return { path: "", message: "is invalid" };
  const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : issue.path;
  return { path: fieldPath(path), message: issue.message };
}
