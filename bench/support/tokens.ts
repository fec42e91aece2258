/**
 * A benchmark issuer: a real P-256 key, tokens signed ES256 with node:crypto (the same JWS jose produces and
 * the sidecar verifies with jose), inline JWKS for the sidecar. Signing synchronously is ~5× faster than jose's
 * async path, which matters when minting tens of thousands of distinct tokens before a run. The issuer URL can be a
 * local OIDC discovery server (bench/servers/oidc.ts) so that a peer proxy verifies the very same tokens.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { JWK } from "jose";

export const BENCH_ISSUER = "https://idp.bench.vigil.test";
export const BENCH_AUDIENCE = "vigil-sidecar";

export interface TokenClaims {
  sub: string;
  sid: string;
  email: string;
  groups: string[];
}

export interface BenchIssuer {
  issuer: string;
  audience: string;
  jwks: { keys: JWK[] };
  token(claims: TokenClaims, lifetimeSeconds?: number): string;
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

export interface IssuerKey {
  privateKey: KeyObject;
  /** The public key as a JWK (kid, alg and use set). */
  jwk: JWK;
}

export function newIssuerKey(): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, jwk: { ...(publicKey.export({ format: "jwk" }) as JWK), kid: "bench-1", alg: "ES256", use: "sig" } };
}

export function createBenchIssuer(issuer: string = BENCH_ISSUER, key: IssuerKey = newIssuerKey()): BenchIssuer {
  const header = b64(JSON.stringify({ alg: "ES256", kid: key.jwk.kid, typ: "JWT" }));
  return {
    issuer,
    audience: BENCH_AUDIENCE,
    jwks: { keys: [key.jwk] },
    token: (claims, lifetimeSeconds = 3600) => signToken(key.privateKey, header, issuer, claims, lifetimeSeconds),
  };
}

function signToken(key: KeyObject, header: string, issuer: string, claims: TokenClaims, lifetimeSeconds: number): string {
  const iat = Math.floor(Date.now() / 1000);
  // email_verified: what an OIDC provider states, and what oauth2-proxy requires before it accepts an email.
  const payload = b64(JSON.stringify({ iss: issuer, aud: BENCH_AUDIENCE, iat, exp: iat + lifetimeSeconds, email_verified: true, ...claims }));
  const input = `${header}.${payload}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64(signature)}`;
}

/** A distinct identity: a CSPRNG session id, one of a thousand users of group `engineers`. */
export function freshClaims(i: number): TokenClaims {
  const user = `user-${i % 1000}`;
  return { sub: user, sid: `sid-${randomBytes(12).toString("base64url")}`, email: `${user}@example.com`, groups: ["engineers", "staff"] };
}

/** Mint `count` distinct tokens (distinct sids) into a file, one per line. */
export async function mintTokenFile(issuer: BenchIssuer, count: number, path: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(issuer.token(freshClaims(i)));
  await writeFile(path, lines.join("\n") + "\n");
}
