/**
 * `sessionKeyOf` (a SHA-256 of issuer + session claim) once per principal object: a warm token's principal is the
 * same cached object on every request, so the request path does no hashing. The session key survives a Redis
 * loss (it is derived from the token), which is how a revocation of a session ID still finds that login after the
 * session index was lost (operator/api/bus/coverage.ts).
 */
import type { CoveredIdentity } from "../../operator/api/bus/coverage.ts";
import { sessionKeyOf } from "../auth/jwt.ts";
import type { Principal } from "../auth/types.ts";

const keys = new WeakMap<Principal, string>();

export function cachedSessionKeyOf(principal: Principal): string {
  let key = keys.get(principal);
  if (key === undefined) {
    key = sessionKeyOf(principal);
    keys.set(principal, key);
  }
  return key;
}

/** What coverage.ts needs to know about a token's identity and session. */
export function coveredIdentity(principal: Principal, sessionId: string): CoveredIdentity {
  return { sessionId, sessionKey: cachedSessionKeyOf(principal), principal };
}
