/** A signal issuer's keys: a remote JWKS (jose: timeout, cooldown on unknown `kid`, max age) or an inline set. */
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from "jose";

export function keySet(source: { jwksUri?: string | undefined; jwks?: { keys: Record<string, unknown>[] } | undefined }): JWTVerifyGetKey {
  if (source.jwks !== undefined) return createLocalJWKSet(source.jwks);
  return createRemoteJWKSet(new URL(source.jwksUri ?? ""), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
}
