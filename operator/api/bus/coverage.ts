/**
 * Which identities a revocation covers: the ONE definition used by every part of the sidecar that enforces a
 * revocation (the admission gate, the live-connection terminator, the session store, the token cache).
 *
 * `covers(revocation, who, issuedAtMs, now)` is true exactly when
 *   - the revocation is in force (`now < expiresAt`), and
 *   - what is checked was issued at or before the cutoff (`issuedAtMs <= tokensIssuedBefore`): a token's `iat`, or
 *     a session's start. A login made after the termination is never covered, so a revocation re-applied after a
 *     Redis loss never ends a newer, legitimate session; and
 *   - the selector matches:
 *       session  the session ID equals the selector's, or the session key (hash of issuer + `sid`/`jti`, which a
 *                token keeps even when Redis lost the session index) equals the selector's `sessionKey`;
 *       subject  `sub` equals it, and the issuer too when the selector names one;
 *       email    the email equals it, case-insensitively;
 *       group    the groups contain it (exact: IdPs emit group names case-sensitively);
 *       all      always (a revocation only ever reaches its own namespace's sidecars).
 */
import type { Revocation, TerminationSelector } from "./messages.ts";

export interface CoveredIdentity {
  /** Session ID (`s_…`), "" when not resolved yet. */
  sessionId: string;
  /** Session key (see sessionKeyOf in sidecar/auth/jwt.ts), when known. */
  sessionKey?: string | undefined;
  principal: { issuer: string; subject: string; email?: string | undefined; groups: readonly string[] };
}

export function selectorMatches(selector: TerminationSelector, who: CoveredIdentity): boolean {
  const p = who.principal;
  switch (selector.kind) {
    case "session":
      return (who.sessionId !== "" && who.sessionId === selector.sessionId) || (selector.sessionKey !== undefined && who.sessionKey === selector.sessionKey);
    case "subject":
      return p.subject === selector.subject && (selector.issuer === undefined || p.issuer === selector.issuer);
    case "email":
      return p.email !== undefined && p.email.toLowerCase() === selector.email.toLowerCase();
    case "group":
      return p.groups.includes(selector.group);
    case "all":
      return true;
  }
}

export function covers(revocation: Revocation, who: CoveredIdentity, issuedAtMs: number, now: number): boolean {
  return now < revocation.expiresAt && issuedAtMs <= revocation.tokensIssuedBefore && selectorMatches(revocation.selector, who);
}
