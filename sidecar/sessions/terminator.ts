/**
 * Applies termination events from the bus to this sidecar's live connections.
 *
 * Contract: `apply(revocation)` RSTs every live flow its selector covers (see selector-match.ts)
 * and returns the counts the bus client puts in its ack. A revocation applies only when
 *   - it belongs to this sidecar's namespace (a SessionTermination is namespaced: it never reaches
 *     other namespaces' workloads), and
 *   - it has not expired (`expiresAt`), and
 *   - the flow's token was issued before the termination (`iat` ≤ issuedAt + clock tolerance), so a
 *     replayed revocation does not cut a login made after it.
 * Otherwise `applied` is false and both counts are 0. Never throws.
 */
import type { Logger } from "pino";
import type { Revocation } from "../../operator/api/bus.ts";
import type { CloseCounts, ConnectionTable } from "./connections.ts";

/** Bound on IdP-vs-operator clock skew when comparing a token's `iat` with a termination's time. */
export const TERMINATION_CLOCK_TOLERANCE_MS = 60_000;

export interface TerminationResult extends CloseCounts {
  /** False when the revocation is for another namespace or has expired. */
  applied: boolean;
}

export interface Terminator {
  apply(revocation: Revocation): TerminationResult;
}

export interface TerminatorDeps {
  connections: ConnectionTable;
  /** Namespace of the workload this sidecar protects. */
  namespace: string;
  logger: Logger;
  /** Clock (epoch ms). Default `Date.now`. */
  now?: () => number;
}

export function createTerminator(deps: TerminatorDeps): Terminator {
  const now = deps.now ?? Date.now;
  return {
    apply(revocation) {
      if (revocation.namespace !== deps.namespace || revocation.expiresAt <= now()) {
        return { applied: false, sessions: 0, connections: 0 };
      }
      const counts = deps.connections.terminate(revocation.selector, {
        issuedAtOrBefore: revocation.issuedAt + TERMINATION_CLOCK_TOLERANCE_MS,
      });
      deps.logger.info(
        {
          event: "termination.applied",
          termination: revocation.id,
          selector: revocation.selector.kind,
          revision: revocation.revision,
          sessions: counts.sessions,
          connections: counts.connections,
        },
        "termination applied to live connections",
      );
      return { applied: true, ...counts };
    },
  };
}
