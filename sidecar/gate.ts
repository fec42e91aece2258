/**
 * The admission gate shared by HTTP requests, WebSocket upgrades and CONNECT tunnels: who is this (token →
 * principal → session), may they still (revocations, session standing), and may they do this (policy, staleness).
 *
 * Contract:
 * - `authenticate` extracts and verifies the token, refuses identities covered by a revocation in force (durable
 *   records from the bus, so a sidecar that missed the event still refuses), then resolves the session (created on
 *   first sight, idle/absolute timeouts of the strictest selecting policy) and refuses a revoked session ID.
 * - `authorizeRequest` refuses with 503 POLICY_STALE before the first snapshot, and for Strict policies once the bus
 *   view is older than the staleness bound; otherwise it is the pure `authorize` over the selecting policies.
 * - `stillAllowed(flow)` re-evaluates a live long-lived flow after a policy change (staleness does not cut flows).
 */
import type { IncomingMessage } from "node:http";
import type { Revocation } from "../operator/api/bus.ts";
import { authorize } from "./auth/authorize.ts";
import { extractToken, type CredentialSources } from "./auth/credentials.ts";
import type { TokenVerifier } from "./auth/jwt.ts";
import type { Decision, Principal, RequestFacts } from "./auth/types.ts";
import { SidecarError } from "./errors.ts";
import type { PolicyView } from "./policy/view.ts";
import type { Authenticated, AuthContext } from "./proxy/context.ts";
import type { LiveFlow } from "./sessions/connections.ts";
import { strictestTimeouts, type Timeouts } from "./sessions/record.ts";
import { matchesSelector } from "./sessions/selector-match.ts";
import type { SessionStore } from "./sessions/store.ts";
import { TERMINATION_CLOCK_TOLERANCE_MS } from "./sessions/terminator.ts";

export interface GateDeps {
  verifier: TokenVerifier;
  view: PolicyView;
  store: SessionStore;
  credentials: CredentialSources;
  isTrustedPeer: (peer: string) => boolean;
  /** `<namespace>/<pod>` recorded in sessions. */
  workload: string;
  defaultAction: "Allow" | "Deny";
  defaultTimeouts: Timeouts;
  maxStalenessMs: number;
  /** Epoch ms of the last successful bus read, or null. */
  lastContactAt: () => number | null;
  now: () => number;
}

export interface Gate {
  authenticate(req: IncomingMessage, ctx: AuthContext): Promise<Authenticated>;
  authorizeRequest(principal: Principal, facts: RequestFacts): Decision;
  stillAllowed(flow: LiveFlow): boolean;
}

export function createGate(deps: GateDeps): Gate {
  const revokedBy = (principal: Principal, sessionId: string): Revocation | undefined => {
    const issuedAtMs = principal.issuedAt * 1000;
    return deps.view.findRevocationInForce(
      deps.now(),
      (r) => issuedAtMs <= r.issuedAt + TERMINATION_CLOCK_TOLERANCE_MS && matchesSelector({ sessionId, principal }, r.selector),
    );
  };
  const refuseIfRevoked = (principal: Principal, sessionId: string): void => {
    if (!deps.view.hasRevocations) return;
    if (revokedBy(principal, sessionId) !== undefined) {
      throw new SidecarError("SESSION_REVOKED", "Access for this session was terminated; sign in again.");
    }
  };

  // Hot-path memos: `view.selected` is replaced (never mutated) when policies change, so the strictest
  // timeouts are recomputed only then; one Date per millisecond is shared by the (read-only) authorizer.
  let timeoutsOf: readonly unknown[] | undefined;
  let timeouts: Timeouts = deps.defaultTimeouts;
  const currentTimeouts = (): Timeouts => {
    const selected = deps.view.selected;
    if (selected !== timeoutsOf) {
      timeouts = strictestTimeouts(selected, deps.defaultTimeouts);
      timeoutsOf = selected;
    }
    return timeouts;
  };
  const authorizeOptions = { defaultAction: deps.defaultAction };
  let dateMs = Number.NaN;
  let date = new Date(0);
  const dateAt = (ms: number): Date => {
    if (ms !== dateMs) {
      date = new Date(ms);
      dateMs = ms;
    }
    return date;
  };

  return {
    async authenticate(req, ctx) {
      const peer = req.socket.remoteAddress ?? "";
      const token = extractToken(req.headers, ctx.kind === "tunnel", deps.credentials, deps.isTrustedPeer(peer));
      const principal = await deps.verifier.verify(token);
      refuseIfRevoked(principal, "");
      const now = deps.now();
      const userAgent = req.headers["user-agent"] ?? "";
      const session = await deps.store.resolve(principal, currentTimeouts(), { now, clientIp: ctx.clientIp, userAgent, workload: deps.workload });
      refuseIfRevoked(principal, session.id);
      return { principal, sessionId: session.id, sessionStartedAt: session.startedAt };
    },

    authorizeRequest(principal, facts) {
      if (!deps.view.loaded) throw new SidecarError("POLICY_STALE", "The access policy is not loaded yet; try again shortly.");
      const contact = deps.lastContactAt();
      if (deps.view.strict && (contact === null || deps.now() - contact > deps.maxStalenessMs)) {
        throw new SidecarError("POLICY_STALE", "The access policy could not be confirmed recently; try again shortly.");
      }
      return authorize(principal, facts, deps.view.selected, dateAt(deps.now()), authorizeOptions);
    },

    stillAllowed(flow) {
      return authorize(flow.principal, flow.facts, deps.view.selected, dateAt(deps.now()), authorizeOptions).allowed;
    },
  };
}
