/**
 * The admission gate shared by HTTP requests, WebSocket upgrades and CONNECT tunnels: who is this (token →
 * principal → session), may they still (revocations, session standing), and may they do this (policy, staleness).
 *
 * Contract:
 * - `authenticate` extracts and verifies the token, refuses identities covered by a revocation in force (the rule of
 *   operator/api/bus/coverage.ts, over the revocations of the verified bus view, so a sidecar that missed the event
 *   still refuses), then resolves the session (created on first sight, idle/absolute timeouts of the strictest
 *   selecting policy) and refuses a revoked session. A revoked identity is told when a new login is accepted
 *   (Retry-After while that moment is still ahead).
 * - `authorizeRequest` refuses with 503 POLICY_STALE (Retry-After) before the first snapshot, and for Strict
 *   policies once the bus was last confirmed live longer ago than the staleness bound; otherwise it is the pure
 *   `authorize` over the selecting policies.
 * - `stillAllowed(flow)` re-evaluates a live long-lived flow after a policy change (staleness does not cut flows).
 */
import { covers } from "../operator/api/bus/coverage.ts";
import type { Revocation } from "../operator/api/bus/messages.ts";
import { authorize } from "./auth/authorize.ts";
import { extractToken, type CredentialSources } from "./auth/credentials.ts";
import type { TokenVerifier } from "./auth/jwt.ts";
import type { Principal } from "./auth/types.ts";
import { SidecarError } from "./errors.ts";
import type { PolicyView } from "./policy/view.ts";
import type { AdmissionGate } from "./proxy/context.ts";
import type { LiveFlow } from "./sessions/connections.ts";
import { strictestTimeouts, type Sighting, type Timeouts } from "./sessions/record.ts";
import { coveredIdentity } from "./sessions/session-key.ts";
import { rawDevice } from "./protect/device.ts";
import type { ProtectionGuard } from "./protect/guard.ts";
import type { SessionStore } from "./sessions/store.ts";

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
  /** Epoch ms the bus was last confirmed live (a verified epoch record), or null. */
  lastConfirmedAt: () => number | null;
  now: () => number;
  /** Session protections (network and device binding, travel, limits); absent: none. */
  protections?: ProtectionGuard;
  /** Trusted-ingress device headers (lower-case names, "" = none), recorded with a new session. */
  deviceHeaders?: { certHeader: string; ja4Header: string };
}

export interface Gate extends AdmissionGate {
  stillAllowed(flow: LiveFlow): boolean;
}

export function createGate(deps: GateDeps): Gate {
  const refuseIfRevoked = (principal: Principal, sessionId: string): void => {
    if (!deps.view.hasRevocations) return;
    const now = deps.now();
    const who = coveredIdentity(principal, sessionId);
    const revocation = deps.view.findRevocation(now, (r) => covers(r, who, principal.issuedAt * 1000, now));
    if (revocation !== undefined) throw revokedError(revocation, now);
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
      const { protections } = deps;
      const sighting: Sighting = { now, clientIp: ctx.clientIp, userAgent, workload: deps.workload };
      if (protections !== undefined) sighting.device = rawDevice(req.headers, deps.isTrustedPeer(peer) ? deps.deviceHeaders : undefined);
      const timeouts = currentTimeouts();
      const session = await deps.store.resolve(principal, timeouts, sighting);
      refuseIfRevoked(principal, session.id);
      if (protections !== undefined)
        await protections.check({
          session,
          principal,
          req,
          clientIp: ctx.clientIp,
          selected: deps.view.selected,
          timeouts: { absoluteTimeoutMs: timeouts.absoluteTimeoutMs },
        });
      return { principal, sessionId: session.id, sessionStartedAt: session.startedAt };
    },

    authorizeRequest(principal, facts) {
      if (!deps.view.loaded)
        throw new SidecarError("POLICY_STALE", "The access policy is not loaded yet; try again shortly.", { retryAfterSeconds: STALE_RETRY_AFTER_SECONDS });
      const confirmed = deps.lastConfirmedAt();
      if (deps.view.strict && (confirmed === null || deps.now() - confirmed > deps.maxStalenessMs)) {
        throw new SidecarError("POLICY_STALE", "The access policy could not be confirmed recently; try again shortly.", {
          retryAfterSeconds: STALE_RETRY_AFTER_SECONDS,
        });
      }
      return authorize(principal, facts, deps.view.selected, dateAt(deps.now()), authorizeOptions);
    },

    stillAllowed(flow) {
      return authorize(flow.principal, flow.facts, deps.view.selected, dateAt(deps.now()), authorizeOptions).allowed;
    },
  };
}

const STALE_RETRY_AFTER_SECONDS = 5;

/** SESSION_REVOKED, saying from when a new login is accepted (and Retry-After while that is still ahead). */
function revokedError(revocation: Revocation, now: number): SidecarError {
  const cutoff = revocation.tokensIssuedBefore;
  const when = new Date(Math.ceil((cutoff + 1) / 1000) * 1000).toISOString();
  const message = `Access for this session was terminated; sign in again (a login made after ${when} is accepted).`;
  return new SidecarError("SESSION_REVOKED", message, cutoff >= now ? { retryAfterSeconds: (cutoff - now) / 1000 } : {});
}
