/**
 * Issuer configuration: validation at construction (issuer-schema.ts) and the per-issuer key resolver.
 *
 * Contract: `resolveIssuers` throws a `ConfigError` naming the bad key (`issuers[i].<field>`) for anything unsafe or
 * ambiguous (see issuer-schema.ts). `keyResolverFor` binds exactly one key set to one issuer: the remote set is
 * jose's `createRemoteJWKSet` (cooldown, cacheMaxAge, timeout), whose fetch failures become `JWKS_UNAVAILABLE`
 * (fail closed); keys are never taken from the token (`jku`, `x5u`, `x5c`, `jwk` are ignored; `EmbeddedJWK` is never
 * used).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors } from "jose";
import type { JWTVerifyGetKey } from "jose";
import { SidecarError } from "../errors.ts";
import { parseIssuers, type AllowedAlgorithm, type ValidIssuerConfig } from "./issuer-schema.ts";
import { normaliseType } from "./token-type.ts";

export { ALLOWED_ALGORITHMS, MAX_CLOCK_TOLERANCE_SECONDS } from "./issuer-schema.ts";
export type { AllowedAlgorithm, IssuerConfig } from "./issuer-schema.ts";

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
  maxTokenLifetimeSeconds: number;
  /** Normalised `typ` values accepted (token-type.ts). */
  allowedTypes: ReadonlySet<string>;
  allowMissingType: boolean;
  keys: JWTVerifyGetKey;
}

/** `issuers` is the decoded configuration (validated here, so `unknown` input is fine). */
export function resolveIssuers(issuers: unknown, remote: RemoteJwksOptions = {}, allowInsecureLoopbackJwks = true): Map<string, ResolvedIssuer> {
  const out = new Map<string, ResolvedIssuer>();
  for (const config of parseIssuers(issuers, { allowInsecureLoopbackJwks })) {
    out.set(config.issuer, {
      issuer: config.issuer,
      audiences: config.audiences,
      algorithms: config.algorithms,
      groupsClaim: config.groupsClaim,
      emailClaim: config.emailClaim,
      clockToleranceSeconds: config.clockToleranceSeconds,
      maxTokenAgeSeconds: config.maxTokenAgeSeconds,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      allowedTypes: new Set(config.allowedTypes.map(normaliseType)),
      allowMissingType: config.allowMissingType,
      keys: keyResolverFor(config, remote),
    });
  }
  return out;
}

function keyResolverFor(config: ValidIssuerConfig, remote: RemoteJwksOptions): JWTVerifyGetKey {
  if (config.jwks !== undefined) return createLocalJWKSet(config.jwks);
  const set = createRemoteJWKSet(new URL(config.jwksUri ?? ""), {
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
