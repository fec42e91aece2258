/**
 * Verifying a signed signal token (an OIDC logout token or an RFC 8417 Security Event Token) with jose — the one
 * place both receivers share:
 *
 * - format and size gate before any parsing (three base64url segments, at most MAX_TOKEN_BYTES): an oversized or
 *   malformed body is refused cheaply;
 * - signature from the configured key set ONLY (jose never takes keys from `jku`, `x5u`, `x5c` or an embedded `jwk`),
 *   with the configured algorithm list (`none` and HMAC are never in it);
 * - `iss`, `aud`, `iat` (required, not in the future beyond the tolerance, not older than `maxAgeSeconds`), `exp`
 *   when present, `jti` required;
 * - the expected `typ` (when the token has one, or always when `requireTyp`).
 * Failures are `SignalError`s with the receiver's error code (RFC 8935's `err` values) and a description that
 * never quotes the token. Nothing here throws anything else.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from "jose";

export const MAX_TOKEN_BYTES = 16 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * RFC 8935 §2.4's error codes (answered 400), and `temporarily_unavailable` (RFC 6749's name; answered 503): the
 * signal is valid but could not be applied now — the operator is not ready or no SessionTermination could be created
 * — so the sender should deliver it again (a poll SET is left unacknowledged).
 */
export type SignalErrorCode =
  "invalid_request" | "invalid_key" | "invalid_issuer" | "invalid_audience" | "authentication_failed" | "access_denied" | "temporarily_unavailable";

export class SignalError extends Error {
  readonly code: SignalErrorCode;
  /** Short stable reason for metrics (`bad_signature`, `replayed`, `oversized` …). */
  readonly reason: string;

  constructor(code: SignalErrorCode, reason: string, description: string) {
    super(description);
    this.name = "SignalError";
    this.code = code;
    this.reason = reason;
  }
}

export interface VerifyOptions {
  issuer: string;
  audience: string | string[];
  algorithms: readonly string[];
  keys: JWTVerifyGetKey;
  /** Accepted `typ` values, compared case-insensitively without an `application/` prefix. */
  types: readonly string[];
  requireTyp: boolean;
  maxAgeSeconds?: number;
  clockToleranceSeconds: number;
  now: () => number;
}

export interface Verified {
  payload: JWTPayload & { jti: string; iat: number; iss: string };
  header: ProtectedHeaderParameters;
}

export async function verifySignalToken(token: string, o: VerifyOptions): Promise<Verified> {
  if (token.length > MAX_TOKEN_BYTES) throw new SignalError("invalid_request", "oversized", `the token is larger than ${MAX_TOKEN_BYTES} bytes`);
  if (!COMPACT_JWS.test(token)) throw new SignalError("invalid_request", "malformed", "the token is not a compact JWS (three base64url segments)");
  let result;
  try {
    result = await jwtVerify(token, o.keys, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: [...o.algorithms],
      clockTolerance: o.clockToleranceSeconds,
      currentDate: new Date(o.now()),
      requiredClaims: ["iat", "jti"],
      ...(o.maxAgeSeconds === undefined ? {} : { maxTokenAge: o.maxAgeSeconds }),
    });
  } catch (err) {
    throw mapJoseError(err);
  }
  const typ = result.protectedHeader.typ;
  const normal = typ?.toLowerCase().replace(/^application\//u, "");
  if ((typ === undefined && o.requireTyp) || (normal !== undefined && !o.types.includes(normal))) {
    throw new SignalError("invalid_request", "wrong_type", `the token's typ must be ${o.types.join(" or ")}`);
  }
  const { jti, iat, iss } = result.payload;
  if (typeof jti !== "string" || jti === "" || jti.length > 256)
    throw new SignalError("invalid_request", "bad_jti", "jti must be a string of 1-256 characters");
  if (typeof iat !== "number" || typeof iss !== "string") throw new SignalError("invalid_request", "bad_claims", "iat and iss are required");
  return { payload: { ...result.payload, jti, iat, iss }, header: result.protectedHeader };
}

function mapJoseError(err: unknown): SignalError {
  if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired) return claimError(err);
  if (err instanceof errors.JOSEAlgNotAllowed) return new SignalError("invalid_request", "alg_not_allowed", "the token's alg is not one this receiver accepts");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new SignalError("invalid_key", "bad_signature", "the token's signature does not verify");
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return new SignalError("invalid_key", "unknown_key", "no key of the issuer matches the token");
  if (err instanceof errors.JWKSTimeout) return new SignalError("invalid_key", "jwks_unavailable", "the issuer's keys could not be fetched");
  if (err instanceof errors.JOSEError) return new SignalError("invalid_request", "malformed", "the token could not be parsed");
  return new SignalError("invalid_request", "malformed", "the token could not be verified");
}

function claimError(err: errors.JWTClaimValidationFailed | errors.JWTExpired): SignalError {
  if (err.claim === "iss") return new SignalError("invalid_issuer", "wrong_issuer", "the token's iss is not this receiver's issuer");
  if (err.claim === "aud") return new SignalError("invalid_audience", "wrong_audience", "the token's aud does not name this receiver");
  // jose reports an `iat` older than maxTokenAge as JWTExpired, one in the future as JWTClaimValidationFailed.
  if (err.claim === "iat" && err instanceof errors.JWTExpired) return new SignalError("invalid_request", "too_old", "the token was issued too long ago");
  if (err.claim === "iat" && err.reason === "check_failed") return new SignalError("invalid_request", "issued_in_future", "the token's iat is in the future");
  if (err instanceof errors.JWTExpired) return new SignalError("invalid_request", "expired", "the token has expired");
  return new SignalError("invalid_request", `bad_${err.claim}`, `claim ${err.claim} is ${err.reason === "missing" ? "missing" : "invalid"}`);
}
