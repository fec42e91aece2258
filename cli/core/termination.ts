/**
 * SessionTerminations for people, pure: the object `kubectl vigil terminate` and the console create (one target,
 * a reason, an optional revoke-for, who asked), the progress line `--wait` prints, and whether it is finished.
 */
import { REQUESTED_BY_ANNOTATION } from "../../operator/api/annotations.ts";
import { SESSION_ID_PATTERN } from "../../operator/api/sessions/v1alpha1.ts";
import { API_VERSION, SESSION_TERMINATION } from "../../operator/api/v1alpha1/group.ts";
import { CONFIRM_ALL_SESSIONS, type SessionTermination, type TerminationTarget } from "../../operator/api/v1alpha1/session-termination.ts";
import { UsageError } from "../kube/errors.ts";

export interface TerminateRequest {
  sessionId?: string;
  user?: string;
  email?: string;
  group?: string;
  all?: boolean;
  yes?: boolean;
  reason?: string;
  revokeFor?: string;
}

const GO_DURATION = /^(?:\d+h)?(?:\d+m)?(?:\d+s)?$/;

export function targetOf(r: TerminateRequest): TerminationTarget {
  const given = [
    r.sessionId === undefined ? undefined : "SESSION_ID",
    r.user === undefined ? undefined : "--user",
    r.email === undefined ? undefined : "--email",
    r.group === undefined ? undefined : "--group",
    r.all === true ? "--all" : undefined,
  ].filter((x) => x !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0 ? "name whom to terminate: a SESSION_ID, --user, --email, --group, or --all --yes" : `name one target only (got ${given.join(", ")})`,
    );
  }
  if (r.sessionId !== undefined) {
    if (!SESSION_ID_PATTERN.test(r.sessionId))
      throw new UsageError(`"${r.sessionId}" is not a session id (s_ and 22 characters); kubectl vigil sessions lists them`);
    return { sessionID: r.sessionId };
  }
  if (r.user !== undefined) return { subject: r.user };
  if (r.email !== undefined) return { email: r.email.toLowerCase() };
  if (r.group !== undefined) return { group: r.group };
  if (r.yes !== true) throw new UsageError("--all ends every session of the namespace's workloads: confirm with --yes");
  return { allSessions: true };
}

/** The SessionTermination to create in `namespace` (generated name `<prefix>-xxxxx`). */
export function terminationObject(namespace: string, r: TerminateRequest, requestedBy: string, prefix: string): SessionTermination {
  const target = targetOf(r);
  const reason = (r.reason ?? "").trim();
  if (reason === "") throw new UsageError("--reason is required: say why (it is shown in the status, the Events and the sidecars' logs)");
  if (r.revokeFor !== undefined && (r.revokeFor === "" || !GO_DURATION.test(r.revokeFor))) {
    throw new UsageError(`--revoke-for ${r.revokeFor}: write a duration like 30m, 1h or 12h (at most 720h)`);
  }
  return {
    apiVersion: API_VERSION,
    kind: SESSION_TERMINATION.kind,
    metadata: {
      generateName: `${prefix}-`,
      namespace,
      annotations: { [REQUESTED_BY_ANNOTATION]: requestedBy.slice(0, 1024) },
    } as SessionTermination["metadata"],
    spec: {
      target,
      ...(target.allSessions === true ? { confirmation: CONFIRM_ALL_SESSIONS } : {}),
      reason: reason.slice(0, 1024),
      ...(r.revokeFor === undefined ? {} : { revokeFor: r.revokeFor }),
    },
  };
}

export type Finished = "Completed" | "Failed" | undefined;
export const finished = (t: SessionTermination): Finished => (t.status?.phase === "Completed" || t.status?.phase === "Failed" ? t.status.phase : undefined);

/** `Propagating: 1/2 sidecars acknowledged, 1 session, 2 connections ended`. */
export function progressLine(t: SessionTermination): string {
  const s = t.status ?? {};
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  const acked = s.sidecarsExpected === undefined ? "waiting for the operator" : `${s.sidecarsAcknowledged ?? 0}/${s.sidecarsExpected} sidecars acknowledged`;
  return `${s.phase ?? "Pending"}: ${acked}, ${plural(s.sessionsTerminated ?? 0, "session")}, ${plural(s.connectionsClosed ?? 0, "connection")} ended`;
}

/** Why it failed, from its conditions (the operator says which sidecars did not answer). */
export function failureDetail(t: SessionTermination): string {
  const c = t.status?.conditions?.find((x) => x.status !== "True") ?? t.status?.conditions?.[0];
  const unresponsive = t.status?.unresponsiveSidecars ?? [];
  return [c === undefined ? "" : `${c.reason}: ${c.message}`, unresponsive.length === 0 ? "" : `no acknowledgement from ${unresponsive.join(", ")}`]
    .filter((x) => x !== "")
    .join("; ");
}
