/**
 * Where protection findings and session locations go: one small interface, implemented by the audit reporter (the
 * sealed `P audit` stream the operator indexes into the sessions API) and, always, by the log. Implementations must
 * neither throw nor block the request path (queue and batch).
 */
import type { Logger } from "pino";
import type { SessionFinding, SessionLocation } from "../../operator/api/protections/findings.ts";
import { sessionLogId } from "../proxy/context.ts";

export interface ProtectionEvents {
  finding(f: SessionFinding): void;
  /** The session's client address was geolocated (first sight, or a new address). */
  located(e: { sessionId: string; namespace: string; pod: string; time: number; location: SessionLocation }): void;
}

/** Findings as log lines: code, mode, outcome and the kind of evidence; never places, addresses or the session ID. */
export function logProtectionEvents(log: Logger): ProtectionEvents {
  return {
    finding(f) {
      const e = f.evidence;
      const detail =
        e.kind === "travel"
          ? { effectiveDistanceKm: e.effectiveDistanceKm, elapsedSeconds: e.elapsedSeconds, speedKmh: e.speedKmh }
          : e.kind === "device"
            ? { components: e.changed.map((c) => c.component) }
            : e.kind === "limit"
              ? { limit: e.limit, live: e.live, onExceed: e.onExceed }
              : {};
      log.info(
        {
          event: "session.finding",
          code: f.code,
          mode: f.mode,
          outcome: f.outcome,
          policy: f.policy,
          session: sessionLogId(f.sessionId),
          evidence: e.kind,
          ...detail,
        },
        "session protection finding",
      );
    },
    located: () => undefined,
  };
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
