/**
 * How any thrown value becomes log fields and one-line descriptions, for both programs (operator/errors.ts and
 * sidecar/errors.ts keep the catalogues of codes). Never includes a secret: only messages (first line, capped),
 * codes and HTTP statuses; the stack only for unexpected errors (no code, no HTTP status), where the bug is.
 */

/** HTTP status of an ApiException (or of an error with `statusCode`, as thrown by `Watch`), else undefined. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const rec = err as { code?: unknown; statusCode?: unknown };
  if (typeof rec.code === "number") return rec.code;
  if (typeof rec.statusCode === "number") return rec.statusCode;
  return undefined;
}

/** A short, secret-free description of any thrown value, for logs and conditions (the cause is not included). */
export function describeError(err: unknown): string {
  const status = httpStatusOf(err);
  const base = err instanceof Error ? err.message : String(err);
  const firstLine = base.split("\n", 1)[0] ?? "";
  const trimmed = firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine;
  return status === undefined ? trimmed : `HTTP ${status}: ${trimmed}`;
}

export interface ErrorFields {
  /** One line: `describeError(err)`. */
  err: string;
  code?: string;
  /** The cause chain, outermost first, each described in one line. */
  cause?: string;
  /** Only for unexpected errors (not coded, no HTTP status): where the bug is. */
  stack?: string;
}

const MAX_CAUSES = 3;

/** The log fields of an error handled at an edge: `log.warn({ ...errorFields(err), … }, "…")`. */
export function errorFields(err: unknown): ErrorFields {
  const fields: ErrorFields = { err: describeError(err) };
  const code = typeof (err as { code?: unknown } | null)?.code === "string" ? (err as { code: string }).code : undefined;
  if (code !== undefined) fields.code = code;
  const causes: string[] = [];
  for (let c = causeOf(err); c !== undefined && causes.length < MAX_CAUSES; c = causeOf(c)) causes.push(describeError(c));
  if (causes.length > 0) fields.cause = causes.join(" ← ");
  if (err instanceof Error && code === undefined && httpStatusOf(err) === undefined && err.stack !== undefined) fields.stack = err.stack;
  return fields;
}

function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}
