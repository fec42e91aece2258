/**
 * `sessionKeyOf` (a SHA-256 of issuer + session claim) once per principal object: a warm token's principal is the
 * same cached object on every request, so the request path does no hashing. The session key survives a Redis
 * loss (it is derived from the token), which is how a revocation of a session ID still finds that login after the
 * session index was lost (operator/api/bus/coverage.ts).
 */
import type { CoveredIdentity } from "../../operator/api/bus/coverage.ts";
import { oncePerObject } from "../../lib/memo.ts";
import { sessionKeyOf } from "../auth/jwt.ts";
import type { Principal } from "../auth/types.ts";

export const cachedSessionKeyOf: (principal: Principal) => string = oncePerObject(sessionKeyOf);

/** What coverage.ts needs to know about a token's identity and session. */
export function coveredIdentity(principal: Principal, sessionId: string): CoveredIdentity {
  return { sessionId, sessionKey: cachedSessionKeyOf(principal), principal };
}
