/**
 * The demo's identity provider: one ES256 key pair made fresh for each run, its public half as the inline JWKS
 * the sidecar trusts, and one-hour tokens for the two sample users. Every token carries a random `sid` (one
 * login = one Vigil session).
 */
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

export const DEMO_ISSUER = "https://idp.demo.vigil.dev";
export const DEMO_AUDIENCE = "vigil-demo";

export interface DemoUser {
  name: string;
  email: string;
  groups: string[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  { name: "alice", email: "alice@example.com", groups: ["engineers"] },
  { name: "bob", email: "bob@example.com", groups: ["contractors"] },
];

export interface DemoIssuer {
  /** The sidecar's issuers file content (list of one issuer, inline JWKS). */
  issuersFile: string;
  mint(user: DemoUser): Promise<string>;
}

export async function createDemoIssuer(): Promise<DemoIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const kid = `demo-${randomBytes(6).toString("hex")}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const issuers = [{ issuer: DEMO_ISSUER, audiences: [DEMO_AUDIENCE], algorithms: ["ES256"], jwks: { keys: [jwk] } }];
  return {
    issuersFile: `${JSON.stringify(issuers, null, 2)}\n`,
    mint: (user) =>
      new SignJWT({ email: user.email, groups: user.groups, sid: randomBytes(16).toString("base64url") })
        .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
        .setIssuer(DEMO_ISSUER)
        .setAudience(DEMO_AUDIENCE)
        .setSubject(user.name)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(privateKey),
  };
}
