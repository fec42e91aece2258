/**
 * Where protection findings and session locations go: one small interface, implemented by the sidecar's audit
 * (sidecar/audit/sidecar-audit.ts: `protection.*` and `session.located` events, logged in their log form and sealed
 * into the `P audit` stream the operator folds into the sessions API) and by the metrics. Implementations must
 * neither throw nor block the request path (queue and batch).
 */
import type { SessionFinding, SessionLocation } from "../../operator/api/protections/findings.ts";

export interface ProtectionEvents {
  finding(f: SessionFinding): void;
  /** The session's client address was geolocated (first sight, or a new address). */
  located(e: { sessionId: string; namespace: string; pod: string; time: number; location: SessionLocation }): void;
}

/** Every event to each of `sinks` (a sink that throws is skipped for that event). */
export function fanOut(...sinks: ProtectionEvents[]): ProtectionEvents {
  return {
    finding(f) {
      for (const s of sinks) {
        try {
          s.finding(f);
        } catch {
          // a sink must not affect the request
        }
      }
    },
    located(e) {
      for (const s of sinks) {
        try {
          s.located(e);
        } catch {
          // a sink must not affect the request
        }
      }
    },
  };
}
