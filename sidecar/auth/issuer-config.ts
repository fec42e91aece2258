/**
 * Issuer configuration: validation at construction and the per-issuer key resolver.
 *
 * Contract: `validateIssuers` throws a `ConfigError` naming the bad key (`issuers[i].<field>`) for
 * anything unsafe or ambiguous: no algorithms, HS* or none, tolerance above 60 s, both or neither key
 * source, a non-HTTPS remote JWKS (loopback excepted unless disallowed), an inline JWKS with
 * symmetric or private key material, a duplicate issuer. `keyResolverFor` binds exactly one key set
 * to one issuer: the remote set is jose's `createRemoteJWKSet` (cooldown, cacheMaxAge, timeout),
 * whose fetch failures become `JWKS_UNAVAILABLE` (fail closed); keys are never taken from the
 * token (`jku`, `x5u`, `x5c`, `jwk` are ignored; `EmbeddedJWK` is never used).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors } from "jose";
import type { JSONWebKeySet, JWTVerifyGetKey } from "jose";
import { ConfigError, SidecarError } from "../errors.ts";

export const ALLOWED_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"] as const;
export type AllowedAlgorithm = (typeof ALLOWED_ALGORITHMS)[number];
export const MAX_CLOCK_TOLERANCE_SECONDS = 60;

export interface IssuerConfig {
  /** Exact `iss` value. */
  issuer: string;
  /** Accepted `aud` values (any-of). */
  audiences: string[];
  /** Explicit allow-list; required, never `none` or HS*. */
  algorithms: AllowedAlgorithm[];
  /** Remote JWKS (https). Exactly one of `jwksUri` and `jwks`. */
  jwksUri?: string;
  /** Inline JWKS (from a mounted file): public keys only. */
  jwks?: JSONWebKeySet;
  /** Claim holding the groups array. Default `groups`. */
  groupsClaim?: string;
  /** Claim holding the email. Default `email`. */
  emailClaim?: string;
  /** ≤ 60. Default 30. */
  clockToleranceSeconds?: number;
  /** Refuse tokens whose `iat` is older than this. */
  maxTokenAgeSeconds?: number;
}

export interface RemoteJwksOptions {
  /** Fetch timeout. Default 5000. */
  timeoutMs?: number;
  /** Minimum time between refetches triggered by an unknown `kid`. Default 30000. */
  cooldownMs?: number;
  /** After this the set is refetched before use; a failed refetch fails closed. Default 600000. */
  cacheMaxAgeMs?: number;
}

export interface ResolvedIssuer {
  issuer: string;
  audiences: string[];
  algorithms: AllowedAlgorithm[];
  groupsClaim: string;
  emailClaim: string;
  clockToleranceSeconds: number;
  maxTokenAgeSeconds: number | undefined;
  keys: JWTVerifyGetKey;
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const PUBLIC_KTYS = new Set(["EC", "RSA", "OKP"]);
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

export function resolveIssuers(
  issuers: readonly IssuerConfig[],
  remote: RemoteJwksOptions = {},
  allowInsecureLoopbackJwks = true,
): Map<string, ResolvedIssuer> {
  if (issuers.length === 0) throw new ConfigError("issuers", "at least one issuer is required");
  const out = new Map<string, ResolvedIssuer>();
  issuers.forEach((config, i) => {
    const at = (field: string): string => `issuers[${i}].${field}`;
    if (typeof config.issuer !== "string" || config.issuer.length === 0) throw new ConfigError(at("issuer"), "must be a non-empty string");
    if (out.has(config.issuer)) throw new ConfigError(at("issuer"), "duplicate issuer");
    out.set(config.issuer, resolveOne(config, at, remote, allowInsecureLoopbackJwks));
  });
  return out;
}

function resolveOne(
  config: IssuerConfig,
  at: (field: string) => string,
  remote: RemoteJwksOptions,
  allowInsecureLoopbackJwks: boolean,
): ResolvedIssuer {
  validateAudiences(config.audiences, at("audiences"));
  validateAlgorithms(config.algorithms, at("algorithms"));
  const tolerance = config.clockToleranceSeconds ?? 30;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE_SECONDS) {
    throw new ConfigError(at("clockToleranceSeconds"), `must be between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}`);
  }
  const maxAge = config.maxTokenAgeSeconds;
  if (maxAge !== undefined && (!Number.isFinite(maxAge) || maxAge <= 0)) throw new ConfigError(at("maxTokenAgeSeconds"), "must be a positive number");
  for (const claim of ["groupsClaim", "emailClaim"] as const) {
    const v = config[claim];
    if (v !== undefined && (typeof v !== "string" || v.length === 0)) throw new ConfigError(at(claim), "must be a non-empty string");
  }
  return {
    issuer: config.issuer,
    audiences: [...config.audiences],
    algorithms: [...config.algorithms],
    groupsClaim: config.groupsClaim ?? "groups",
    emailClaim: config.emailClaim ?? "email",
    clockToleranceSeconds: tolerance,
    maxTokenAgeSeconds: maxAge,
    keys: keyResolverFor(config, at, remote, allowInsecureLoopbackJwks),
  };
}

function validateAudiences(audiences: unknown, key: string): void {
  if (!Array.isArray(audiences) || audiences.length === 0) throw new ConfigError(key, "at least one audience is required");
  if (!audiences.every((a) => typeof a === "string" && a.length > 0)) throw new ConfigError(key, "audiences must be non-empty strings");
}

function validateAlgorithms(algorithms: unknown, key: string): void {
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new ConfigError(key, "an explicit, non-empty algorithm list is required");
  for (const alg of algorithms) {
    if (!(ALLOWED_ALGORITHMS as readonly unknown[]).includes(alg)) {
      throw new ConfigError(key, `algorithm ${JSON.stringify(alg)} is not allowed (allowed: ${ALLOWED_ALGORITHMS.join(", ")})`);
    }
  }
}

function keyResolverFor(
  config: IssuerConfig,
  at: (field: string) => string,
  remote: RemoteJwksOptions,
  allowInsecureLoopbackJwks: boolean,
): JWTVerifyGetKey {
  const hasUri = config.jwksUri !== undefined;
  const hasInline = config.jwks !== undefined;
  if (hasUri === hasInline) throw new ConfigError(at("jwksUri"), "exactly one of jwksUri and jwks is required");
  if (config.jwks !== undefined) {
    validateInlineJwks(config.jwks, at("jwks"));
    return createLocalJWKSet(config.jwks);
  }
  const url = parseJwksUri(config.jwksUri ?? "", at("jwksUri"), allowInsecureLoopbackJwks);
  const set = createRemoteJWKSet(url, {
    timeoutDuration: remote.timeoutMs ?? 5_000,
    cooldownDuration: remote.cooldownMs ?? 30_000,
    cacheMaxAge: remote.cacheMaxAgeMs ?? 600_000,
  });
  return async (header, token) => {
    try {
      return await set(header, token);
    } catch (err) {
      if (isKeySelectionError(err)) throw err;
      throw new SidecarError("JWKS_UNAVAILABLE", "The issuer's signing keys could not be fetched.", { cause: err });
    }
  };
}

/** Errors that mean "the token names no usable key", as opposed to "the key set is unreachable". */
function isKeySelectionError(err: unknown): boolean {
  return err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported;
}

function parseJwksUri(raw: string, key: string, allowInsecureLoopback: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new ConfigError(key, "is not a URL", cause);
  }
  if (url.username !== "" || url.password !== "") throw new ConfigError(key, "must not carry credentials");
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && allowInsecureLoopback && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new ConfigError(key, "must use https (plain http only for loopback)");
}

function validateInlineJwks(jwks: unknown, key: string): void {
  if (typeof jwks !== "object" || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new ConfigError(key, "must be a JWK Set ({\"keys\": [...]})");
  }
  const keys = (jwks as { keys: unknown[] }).keys;
  if (keys.length === 0) throw new ConfigError(key, "must contain at least one key");
  keys.forEach((jwk, i) => {
    if (typeof jwk !== "object" || jwk === null) throw new ConfigError(`${key}.keys[${i}]`, "must be an object");
    const kty = (jwk as { kty?: unknown }).kty;
    if (typeof kty !== "string" || !PUBLIC_KTYS.has(kty)) throw new ConfigError(`${key}.keys[${i}].kty`, "must be EC, RSA or OKP (no symmetric keys)");
    if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) throw new ConfigError(`${key}.keys[${i}]`, "must hold public key material only");
  });
}
