/**
 * The session key: a SHA-256 of the issuer and the token's session claim (`sid`, else `jti`). A token keeps it even
 * when Redis lost the session index, so a revocation naming it still finds that login; the operator computes it for
 * an identity provider's login session (`sid`) named by a back-channel logout or a CAEP signal. Pure; shared by
 * both programs.
 */
import { createHash } from "node:crypto";

export interface SessionClaim {
  name: "sid" | "jti";
  value: string;
}

export function sessionKeyOf(principal: { issuer: string; sessionClaim: SessionClaim }): string {
  const canonical = JSON.stringify(["vigil/session-key/v1", principal.issuer, principal.sessionClaim.name, principal.sessionClaim.value]);
  return createHash("sha256").update(canonical).digest("base64url");
}
