/**
 * JWT verification: token string → verified `Principal`, or a coded `SidecarError` (401).
 *
 * Contract (RFC 8725, JWT best current practices): the format/size gate runs first (no JOSE parsing of bad input); the
 * issuer is picked by the *unverified* `iss`, its `typ` must be one that issuer's access tokens may have
 * (token-type.ts; logout and security event tokens never are), and the token is then verified with that issuer's key
 * set only (`jose.jwtVerify` with the explicit algorithm list, issuer, audience, required `exp`,
 * `iat`, `sub`, bounded clock tolerance, no extra `crit` recognised). Date claims must be finite, `iat` in the
 * future beyond the tolerance is refused and `exp − iat` is bounded per issuer (token-dates.ts); `sid` (else
 * `jti`) is required and becomes the session claim.
 * Verified tokens are cached by their full string until `exp` (or `iat + maxTokenAge`), bounded
 * in size; `invalidateWhere` drops cached entries covered by a revocation. Revocations themselves
 * must be keyed on `sessionKeyOf(principal)` (issuer + session claim), never on the token bytes,
 * because ECDSA signatures are malleable.
 */
import { errors, jwtVerify } from "jose";
import type { JWTPayload } from "jose";
import { SidecarError } from "../errors.ts";
import type { SidecarErrorCode } from "../errors.ts";
import { resolveIssuers } from "./issuer-config.ts";
import type { IssuerConfig, RemoteJwksOptions, ResolvedIssuer } from "./issuer-config.ts";
import { createTokenCache } from "./token-cache.ts";
import { tokenDates } from "./token-dates.ts";
import { checkTokenType } from "./token-type.ts";
import { DEFAULT_MAX_TOKEN_BYTES, decodeJsonSegment, gateToken } from "./token-gate.ts";
import type { Principal } from "./types.ts";

export type { IssuerConfig, RemoteJwksOptions } from "./issuer-config.ts";

export interface TokenVerifierOptions {
  /** Format gate limit. Default 8 KiB. */
  maxTokenBytes?: number;
  /** Verified-token cache size. Default 10 000; 0 disables the cache. */
  cacheMaxEntries?: number;
  remoteJwks?: RemoteJwksOptions;
  /** Allow `http://` JWKS URIs on loopback hosts (tests, node-local IdPs). Default true. */
  allowInsecureLoopbackJwks?: boolean;
  /** Clock (epoch ms). Default `Date.now`. */
  now?: () => number;
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** Drop cached verifications for matching principals (on revocation); returns the count. */
  invalidateWhere(pred: (principal: Principal) => boolean): number;
  readonly cacheSize: number;
}

const REQUIRED_CLAIMS = ["exp", "iat", "sub"];

export function createTokenVerifier(issuers: IssuerConfig[], opts: TokenVerifierOptions = {}): TokenVerifier {
  const resolved = resolveIssuers(issuers, opts.remoteJwks, opts.allowInsecureLoopbackJwks ?? true);
  const maxTokenBytes = opts.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  const now = opts.now ?? Date.now;
  const cache = createTokenCache(opts.cacheMaxEntries ?? 10_000, now);

  async function verify(token: string): Promise<Principal> {
    // Only tokens that passed the gate are ever cached, so a hit needs no parsing at all.
    const cached = cache.get(token);
    if (cached !== undefined) return cached;
    const gated = gateToken(token, maxTokenBytes);
    const issuer = resolved.get(unverifiedIssuer(gated.payloadSegment));
    if (issuer === undefined) throw new SidecarError("ISSUER_UNKNOWN", "The token's issuer is not trusted by this workload.");
    checkTokenType(gated.header.typ, issuer);
    const nowMs = now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        algorithms: issuer.algorithms,
        issuer: issuer.issuer,
        audience: issuer.audiences,
        requiredClaims: REQUIRED_CLAIMS,
        clockTolerance: issuer.clockToleranceSeconds,
        crit: {},
        currentDate: new Date(nowMs),
        ...(issuer.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: issuer.maxTokenAgeSeconds }),
      }));
    } catch (err) {
      throw mapVerifyError(err);
    }
    const principal = toPrincipal(payload, issuer, nowMs);
    cache.set(token, principal, deadlineOf(principal, issuer));
    return principal;
  }

  return {
    verify,
    invalidateWhere: (pred) => cache.invalidateWhere(pred),
    get cacheSize() {
      return cache.size;
    },
  };
}

/**
 * The key a session (and a revocation) is bound to: issuer + session claim name + value, hashed
 * to a fixed-length, separator-free string. Independent of the token bytes, so a re-signed or
 * malleated token of the same login maps to the same key.
 */
export { sessionKeyOf } from "../../operator/api/session-key.ts";

function unverifiedIssuer(payloadSegment: string): string {
  const payload = decodeJsonSegment(payloadSegment);
  if (payload === undefined) throw new SidecarError("TOKEN_MALFORMED", "The token payload is not a base64url-encoded UTF-8 JSON object.");
  const iss = payload.iss;
  if (typeof iss !== "string" || iss.length === 0) throw missingClaim("iss");
  return iss;
}

function toPrincipal(payload: JWTPayload, issuer: ResolvedIssuer, nowMs: number): Principal {
  const { issuedAt, expiresAt } = tokenDates(payload, issuer, nowMs);
  const sub = payload.sub;
  if (typeof sub !== "string" || sub.length === 0) throw new SidecarError("TOKEN_INVALID", "The token's sub must be a non-empty string.");
  const principal: Principal = {
    issuer: issuer.issuer,
    subject: sub,
    groups: stringList(payload[issuer.groupsClaim]),
    claims: Object.freeze({ ...payload }),
    sessionClaim: sessionClaimOf(payload),
    issuedAt,
    expiresAt,
  };
  const email = payload[issuer.emailClaim];
  if (typeof email === "string" && email.length > 0) principal.email = email;
  return Object.freeze(principal);
}

function sessionClaimOf(payload: JWTPayload): Principal["sessionClaim"] {
  const sid = payload.sid;
  if (typeof sid === "string" && sid.length > 0) return { name: "sid", value: sid };
  const jti = payload.jti;
  if (typeof jti === "string" && jti.length > 0) return { name: "jti", value: jti };
  throw missingClaim("sid");
}

function stringList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === "string");
}

/** Epoch ms after which a cached verification must not be reused. */
function deadlineOf(principal: Principal, issuer: ResolvedIssuer): number {
  let deadline = (principal.expiresAt + issuer.clockToleranceSeconds) * 1000;
  if (issuer.maxTokenAgeSeconds !== undefined) {
    deadline = Math.min(deadline, (principal.issuedAt + issuer.maxTokenAgeSeconds + issuer.clockToleranceSeconds) * 1000);
  }
  return deadline;
}

function missingClaim(claim: string): SidecarError {
  return new SidecarError("TOKEN_MISSING_CLAIM", `The token has no usable "${claim}" claim.`);
}

const CLAIM_CODES: Readonly<Record<string, SidecarErrorCode>> = {
  iss: "TOKEN_WRONG_ISSUER",
  aud: "TOKEN_WRONG_AUDIENCE",
  nbf: "TOKEN_NOT_YET_VALID",
  iat: "TOKEN_NOT_YET_VALID",
};

const MESSAGES: Readonly<Partial<Record<SidecarErrorCode, string>>> = {
  TOKEN_EXPIRED: "The token has expired.",
  TOKEN_NOT_YET_VALID: "The token is not valid yet.",
  TOKEN_WRONG_ISSUER: "The token's issuer does not match.",
  TOKEN_WRONG_AUDIENCE: "The token was not issued for this workload.",
  TOKEN_INVALID: "The token's signature or header is not valid.",
};

/** jose error → SidecarError. Messages are ours; jose's error stays as `cause` for logs. */
function mapVerifyError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  let code: SidecarErrorCode = "TOKEN_INVALID";
  if (err instanceof errors.JWTExpired) code = "TOKEN_EXPIRED";
  else if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return new SidecarError("TOKEN_MISSING_CLAIM", `The token has no "${err.claim}" claim.`, { cause: err });
    if (err.reason === "check_failed") code = CLAIM_CODES[err.claim] ?? "TOKEN_INVALID";
  } else if (err instanceof errors.JWKSTimeout) {
    return new SidecarError("JWKS_UNAVAILABLE", "The issuer's signing keys could not be fetched.", { cause: err });
  }
  return new SidecarError(code, MESSAGES[code] ?? "The token is not valid.", { cause: err });
}
