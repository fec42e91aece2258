/**
 * Which live flows a termination selector covers (pure).
 *
 * Contract: `matchesSelector(flow, selector)` is true exactly when
 *   session  the flow's session ID equals the selector's;
 *   subject  the principal's `sub` equals it, and the issuer too when the selector names one;
 *   email    the principal's email equals it, compared case-insensitively (ASCII/Unicode lower case);
 *   group    the principal's groups contain it (exact, case-sensitive, as IdPs emit group names);
 *   all      always (namespace scoping is the terminator's job).
 */
import type { TerminationSelector } from "../../operator/api/bus.ts";
import type { Principal } from "../auth/types.ts";

export interface SelectableFlow {
  sessionId: string;
  principal: Pick<Principal, "issuer" | "subject" | "email" | "groups">;
}

export function matchesSelector(flow: SelectableFlow, selector: TerminationSelector): boolean {
  const p = flow.principal;
  switch (selector.kind) {
    case "session":
      return flow.sessionId === selector.sessionId;
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
