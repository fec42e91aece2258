/**
 * The operator's stable error catalogue (the sidecar's is sidecar/errors.ts; bus wire-format codes such as
 * BUS_INVALID_FIELD belong to the contract in operator/api/).
 *
 * Contract: everything the operator throws on purpose is an `OperatorError` whose `code` is a key of
 * `ERROR_CODES` (stable, machine-readable, documented here and nowhere else) and which keeps the underlying
 * `cause`. The webhook's refusals carry the codes of `ADMISSION_ERROR_STATUS`, answered with that HTTP status and a
 * `{code, message}` body. Kubernetes API failures arrive as `ApiException` from @kubernetes/client-node (`.code` =
 * HTTP status); classify them with `isNotFound` / `isConflict` / `isGone` instead of comparing numbers at call
 * sites. `TerminalError` tells the reconcile runner not to retry.
 *
 * Errors are handled and logged ONCE, at the edge that decides what happens next (the reconcile runner, the
 * webhook server, the admin server, the informer and leader-election loops, main), with `errorFields(err)`:
 * code, a one-line description, the cause chain and, for unexpected errors (bugs), the stack. Inner code wraps
 * with `cause` and rethrows; it does not log.
 */

export { describeError, errorFields, httpStatusOf, type ErrorFields } from "../lib/errors.ts";
import { httpStatusOf } from "../lib/errors.ts";

/** Code → what it means. The keys are the stable codes that logs, Events, conditions and webhook refusals carry. */
export const ERROR_CODES = {
  // Start-up: the process stops (exit 2 for configuration) with the key or file named.
  CONFIG_INVALID: "a flag, environment variable or mounted configuration file is invalid",
  WEBHOOK_TLS_UNAVAILABLE: "the injection webhook has no serving certificate to start with",
  // Reconciles: retried with backoff, except RECONCILE_TERMINAL.
  KUBE_API: "a Kubernetes API call failed or was rejected",
  KUBE_CONFLICT: "a guarded write kept conflicting with other writers",
  BUS_UNAVAILABLE: "the policy bus (Redis) did not accept an operation",
  BUS_NOT_READY: "the policy bus has not been adopted or rebuilt yet by this leader",
  BUS_DAMAGED: "Redis no longer holds what the operator wrote (lost, replaced or tampered with): the bus is being rebuilt",
  RECONCILE_TERMINAL: "retrying cannot fix this object; it is reconciled again when it changes",
  // Injection.
  INJECTION_IMPOSSIBLE: "inject() was asked to inject a pod that the injection decision refuses",
  // The webhook's refusals (HTTP status in ADMISSION_ERROR_STATUS).
  ADMISSION_BAD_JSON: "the AdmissionReview body is not JSON",
  ADMISSION_BAD_REVIEW: "the body is not an admission.k8s.io/v1 AdmissionReview",
  ADMISSION_BAD_REQUEST: "a field of the AdmissionReview's request is missing or malformed",
  ADMISSION_BAD_OBJECT: "the admitted object is not a well-formed Pod",
  ADMISSION_BAD_CONTENT_TYPE: "the request's content type is not application/json",
  ADMISSION_TOO_LARGE: "the request body exceeds the webhook's limit",
  ADMISSION_TIMEOUT: "no injection decision within the handler's deadline",
  ADMISSION_INTERNAL: "the webhook failed while answering",
} as const;

export type OperatorErrorCode = keyof typeof ERROR_CODES;

/** The webhook's refusal codes → the HTTP status they are answered with. */
export const ADMISSION_ERROR_STATUS = {
  ADMISSION_BAD_JSON: 400,
  ADMISSION_BAD_REVIEW: 400,
  ADMISSION_BAD_REQUEST: 400,
  ADMISSION_BAD_OBJECT: 400,
  ADMISSION_BAD_CONTENT_TYPE: 415,
  ADMISSION_TOO_LARGE: 413,
  ADMISSION_TIMEOUT: 500,
  ADMISSION_INTERNAL: 500,
} as const satisfies Partial<Record<OperatorErrorCode, number>>;

export type AdmissionErrorCode = keyof typeof ADMISSION_ERROR_STATUS;

export class OperatorError extends Error {
  readonly code: OperatorErrorCode;
  constructor(code: OperatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OperatorError";
    this.code = code;
  }
}

/** A configuration error that names the offending key (a flag, a variable or a dotted path in a file). */
export class ConfigError extends OperatorError {
  /** The flag, environment variable or field at fault. */
  readonly key: string;
  constructor(key: string, problem: string, options?: { cause?: unknown }) {
    super("CONFIG_INVALID", `${key}: ${problem}`, options);
    this.name = "ConfigError";
    this.key = key;
  }
}

/**
 * A reconcile failure that retrying cannot fix (e.g. an object that can never be valid). The runner logs it,
 * counts it under `result="terminal_error"` and does not requeue; the next change to the object wakes it again.
 */
export class TerminalError extends OperatorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RECONCILE_TERMINAL", message, options);
    this.name = "TerminalError";
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** An OperatorError (with `code`, when given). */
export function isOperatorError(err: unknown, code?: OperatorErrorCode): err is OperatorError {
  return err instanceof OperatorError && (code === undefined || err.code === code);
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
