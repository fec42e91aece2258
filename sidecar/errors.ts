/**
 * The sidecar's stable error catalogue.
 *
 * Contract: every refusal the sidecar produces is a `SidecarError` whose `code` is one of
 * `SidecarErrorCode` (stable, machine-readable, documented) and whose `status` is the HTTP status
 * the client receives. `message` is a human sentence that never contains a token, a secret or a
 * raw session ID. `cause` keeps the underlying error for logs only; it is never sent to a client.
 * `errorBody(err)` is the only way an error becomes a response body.
 */
import type { Decision } from "./auth/types.ts";

/** Code → HTTP status. The keys are the stable codes clients and dashboards rely on. */
export const ERROR_STATUS = {
  // Authentication (401)
  TOKEN_MISSING: 401,
  TOKEN_MALFORMED: 401,
  TOKEN_INVALID: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_NOT_YET_VALID: 401,
  TOKEN_WRONG_ISSUER: 401,
  TOKEN_WRONG_AUDIENCE: 401,
  TOKEN_MISSING_CLAIM: 401,
  /** `exp − iat` is longer than the issuer's maximum token lifetime. */
  TOKEN_LIFETIME_TOO_LONG: 401,
  /** The token's `typ` is not an access-token type of its issuer (e.g. a logout or security event token). */
  TOKEN_WRONG_TYPE: 401,
  ISSUER_UNKNOWN: 401,
  JWKS_UNAVAILABLE: 401,
  SESSION_REVOKED: 401,
  SESSION_EXPIRED: 401,
  SESSION_IDLE: 401,
  /** A stored session record failed to decrypt or validate: treated as no session. */
  SESSION_RECORD_INVALID: 401,
  // Session protections (Enforce): the session is ended with the finding's code; a new login is needed.
  /** A request came from outside the network the session started from. */
  SESSION_NETWORK_CHANGED: 401,
  /** The device fingerprint changed beyond a browser's minor update. */
  SESSION_DEVICE_CHANGED: 401,
  /** The identity moved faster than a person can travel. */
  SESSION_IMPOSSIBLE_TRAVEL: 401,
  // Authorization (403)
  NO_POLICY: 403,
  DENIED_BY_RULE: 403,
  NO_MATCHING_RULE: 403,
  /** The identity already has as many live sessions on these workloads as its policy allows. */
  SESSION_LIMIT_EXCEEDED: 403,
  // Availability (retryable: these carry Retry-After)
  POLICY_STALE: 503,
  /** Redis (the session store) is unreachable: nothing is decided, try again. */
  SESSION_STORE_UNAVAILABLE: 503,
  /** The policy bus could not be written (heartbeats, acknowledgements); never sent to clients. */
  BUS_UNAVAILABLE: 503,
  // Malformed or unacceptable requests
  BAD_REQUEST: 400,
  /** The request head is larger than the sidecar accepts. */
  HEADERS_TOO_LARGE: 431,
  /** The request head (or the whole request) did not arrive in time. */
  REQUEST_TIMEOUT: 408,
  /** Two credential headers, or different tokens in more than one place (header, cookie, ingress header). */
  CREDENTIALS_AMBIGUOUS: 400,
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  // Never sent for client input: configuration problems stop the process at start.
  CONFIG_INVALID: 500,
  INTERNAL: 500,
} as const satisfies Record<string, number>;

export type SidecarErrorCode = keyof typeof ERROR_STATUS;

export interface SidecarErrorOptions {
  cause?: unknown;
  /** `<namespace>/<name>` of the policy behind an authorization refusal. */
  policy?: string;
  /** Rule name behind an authorization refusal. */
  rule?: string;
  /** For retryable refusals: seconds after which trying again can succeed (sent as Retry-After). */
  retryAfterSeconds?: number;
}

export class SidecarError extends Error {
  readonly code: SidecarErrorCode;
  readonly status: number;
  readonly policy: string | undefined;
  readonly rule: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: SidecarErrorCode, message: string, options: SidecarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SidecarError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.policy = options.policy;
    this.rule = options.rule;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A configuration error that names the offending key (e.g. `issuers[0].algorithms`). */
export class ConfigError extends SidecarError {
  readonly key: string;

  constructor(key: string, problem: string, cause?: unknown) {
    super("CONFIG_INVALID", `invalid configuration at ${key}: ${problem}`, cause === undefined ? {} : { cause });
    this.name = "ConfigError";
    this.key = key;
  }
}

export function isSidecarErrorCode(code: unknown): code is SidecarErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError;
}

export interface ErrorBody {
  code: SidecarErrorCode;
  message: string;
  rule?: string;
  policy?: string;
}

/**
 * The JSON refusal body. Unknown errors become `INTERNAL` with a fixed sentence so that nothing
 * from an unexpected error (which could quote input) reaches the client.
 */
export function errorBody(err: unknown): ErrorBody {
  if (!isSidecarError(err)) return { code: "INTERNAL", message: "The sidecar could not process this request." };
  const body: ErrorBody = { code: err.code, message: err.message };
  if (err.rule !== undefined) body.rule = err.rule;
  if (err.policy !== undefined) body.policy = err.policy;
  return body;
}

/** Turn a refusing authorization decision into its error (403 with policy and rule when known). */
export function denialError(decision: Extract<Decision, { allowed: false }>): SidecarError {
  const options: SidecarErrorOptions = {};
  if (decision.policy !== undefined) options.policy = decision.policy;
  if (decision.rule !== undefined) options.rule = decision.rule;
  return new SidecarError(decision.code, decision.reason, options);
}
