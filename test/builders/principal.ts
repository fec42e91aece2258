import type { Principal } from "../../sidecar/auth/types.ts";

/** A verified principal as the JWT verifier would produce it; override what the test is about. */
export function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    issuer: "https://idp.example.test",
    subject: "alice",
    email: "alice@example.test",
    groups: ["engineers"],
    claims: {},
    sessionClaim: { name: "sid", value: "sid-alice-1" },
    issuedAt: 1_700_000_000,
    expiresAt: 1_700_003_600,
    ...overrides,
  };
}
