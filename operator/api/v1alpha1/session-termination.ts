import type { Condition, ObjectMeta } from "./meta.ts";

/**
 * SessionTermination: end live access now. Names exactly one target; its spec is immutable.
 * Mirrors crds/vigil.dev_sessionterminations.yaml field for field (a test keeps them in step).
 */
export interface SessionTermination {
  apiVersion: "vigil.dev/v1alpha1";
  kind: "SessionTermination";
  metadata: ObjectMeta;
  spec: SessionTerminationSpec;
  status?: SessionTerminationStatus;
}

export const CONFIRM_ALL_SESSIONS = "TerminateAllSessionsInNamespace";

export interface SessionTerminationSpec {
  target: TerminationTarget;
  /** Required, and must equal CONFIRM_ALL_SESSIONS, exactly when target.allSessions is true. */
  confirmation?: typeof CONFIRM_ALL_SESSIONS;
  /** Why; shown in status, events and the sidecars' logs. */
  reason: string;
  /**
   * RFC 3339: only sessions started, and tokens issued, up to this moment (plus the clock-skew allowance) are covered.
   * Absent, or later than the creation time: the creation time. Set by identity-provider signals.
   */
  cutoffTime?: string;
  /** Go duration (`12h`), 1s..720h, during which the identity's existing tokens stay refused (a new login is required). */
  revokeFor?: string;
  /** Delete the resource this many seconds after it finished (0..7776000). Absent: keep it. */
  ttlSecondsAfterFinished?: number;
}

/** Exactly one of sessionID, idpSessionID, subject, email, group, allSessions. */
export interface TerminationTarget {
  /** `s_` + 22 base64url characters (128 bits). */
  sessionID?: string;
  /** The identity provider's login session (the tokens' `sid`) of `issuer`, which is then required. */
  idpSessionID?: string;
  subject?: string;
  /** Optional qualifier for `subject` (only sessions from this issuer); required with `idpSessionID`. */
  issuer?: string;
  email?: string;
  group?: string;
  /** Every session of this namespace's workloads; needs spec.confirmation. */
  allSessions?: boolean;
}

export type TerminationPhase = "Pending" | "Propagating" | "Completed" | "Failed";

export interface SessionTerminationStatus {
  observedGeneration?: number;
  phase?: TerminationPhase;
  conditions?: Condition[];
  busRevision?: number;
  sessionsTerminated?: number;
  connectionsClosed?: number;
  sidecarsAcknowledged?: number;
  sidecarsExpected?: number;
  /** Sidecars (`namespace/pod`) that never acknowledged, when Failed; at most 64 listed. */
  unresponsiveSidecars?: string[];
  startTime?: string;
  completionTime?: string;
}
