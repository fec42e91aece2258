/**
 * Coded errors of vigil-operator.
 *
 * Contract: everything the operator throws on purpose is an `OperatorError` with a stable `code` (a string
 * constant from `ErrorCode`) and the original `cause`. Kubernetes API failures arrive as `ApiException` from
 * @kubernetes/client-node (`.code` = HTTP status); classify them with `isNotFound` / `isConflict` / `isGone`
 * instead of comparing numbers at call sites. `TerminalError` tells the reconcile runner not to retry.
 */

export const ErrorCode = {
  Config: "CONFIG_INVALID",
  Kube: "KUBE_API",
  Conflict: "KUBE_CONFLICT",
  WatchGone: "WATCH_GONE",
  LeaseLost: "LEASE_LOST",
  Terminal: "RECONCILE_TERMINAL",
  Shutdown: "SHUTTING_DOWN",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class OperatorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OperatorError";
    this.code = code;
  }
}

/**
 * A reconcile failure that retrying cannot fix (e.g. an object that can never be valid). The runner logs it,
 * counts it under `result="terminal_error"` and does not requeue; the next change to the object wakes it again.
 */
export class TerminalError extends OperatorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Terminal, message, options);
    this.name = "TerminalError";
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** HTTP status of an ApiException (or of an error with `statusCode`, as thrown by `Watch`), else undefined. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const rec = err as { code?: unknown; statusCode?: unknown };
  if (typeof rec.code === "number") return rec.code;
  if (typeof rec.statusCode === "number") return rec.statusCode;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return httpStatusOf(err) === 409;
}

export function isGone(err: unknown): boolean {
  return httpStatusOf(err) === 410;
}

/** A short, secret-free description of any thrown value, for logs and conditions. */
export function describeError(err: unknown): string {
  const status = httpStatusOf(err);
  const base = err instanceof Error ? err.message : String(err);
  const firstLine = base.split("\n", 1)[0] ?? "";
  const trimmed = firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine;
  return status === undefined ? trimmed : `HTTP ${status}: ${trimmed}`;
}
