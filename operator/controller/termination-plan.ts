/**
 * Pure core of the SessionTermination reconciler (no I/O; unit-tested with plain data).
 *
 * - `terminationSelector(target)`: the spec's one target → the bus's TerminationSelector (an identity provider's
 *   login session, `idpSessionID` + `issuer`, becomes a session selector by session key: `idpSessionSelector`).
 * - `revocationLifetimeMs(revokeFor, absoluteTimeouts)`: `revokeFor` when set, else the longest absolute session
 *   timeout among the namespace's AccessPolicies (default 8 h): no session it could cover outlives the record.
 * - The publish plan (annotation TERMINATION_PLAN_ANNOTATION): when propagation started, when the revocation
 *   expires and which sidecars (pod names in the termination's namespace, live at publish time) must answer. Fixed
 *   once, right after the first publish, so a restarted operator finishes the same termination the same way.
 * - `terminationProgress`: from the plan, the acks and the live sidecars → phase and counts. Every sidecar of the
 *   namespace that is live now must acknowledge (the planned ones, and any that registered since: a sidecar
 *   reconnecting after a Redis restart, a new pod), so `Completed` means every live sidecar applied it; and it is
 *   never `Completed` before `settledAt` (the bus was rebuilt recently: sidecars may not have re-registered
 *   yet). An expected sidecar whose heartbeat stopped (pod gone) is not waited for; past the timeout the ones
 *   still silent are named.
 * See docs/decisions/reconcile-0002-termination-plan.md.
 */
import { z } from "zod";
import type { Ack, TerminationSelector } from "../api/bus/messages.ts";
import { tryParseDuration } from "../api/duration.ts";
import { sessionKeyOf } from "../api/session-key.ts";
import type { TerminationTarget } from "../api/v1alpha1/index.ts";

export const DEFAULT_ABSOLUTE_TIMEOUT_SECONDS = 8 * 3600;
/** At most this many sidecars are named in status.unresponsiveSidecars. */
export const MAX_UNRESPONSIVE_LISTED = 64;
/** At most this many pods are remembered in a plan (annotations are limited to 256 KiB in total). */
export const MAX_EXPECTED_SIDECARS = 2000;

export type SelectorResult = { ok: true; selector: TerminationSelector } | { ok: false; message: string };

export function terminationSelector(target: TerminationTarget | undefined): SelectorResult {
  if (target === undefined) return { ok: false, message: "spec.target is missing" };
  const set = targetSelectors(target);
  const [only] = set;
  if (set.length !== 1 || only === undefined) {
    return { ok: false, message: `spec.target must name exactly one of sessionID, idpSessionID, subject, email, group, allSessions (found ${set.length})` };
  }
  if (target.idpSessionID !== undefined && target.issuer === undefined) return { ok: false, message: "spec.target.idpSessionID needs spec.target.issuer" };
  if (target.issuer !== undefined && target.subject === undefined && target.idpSessionID === undefined) {
    return { ok: false, message: "spec.target.issuer is only allowed with subject or idpSessionID" };
  }
  return { ok: true, selector: only };
}

function targetSelectors(target: TerminationTarget): TerminationSelector[] {
  const { sessionID, idpSessionID, subject, issuer, email, group, allSessions } = target;
  const set: TerminationSelector[] = [];
  if (sessionID !== undefined) set.push({ kind: "session", sessionId: sessionID });
  if (idpSessionID !== undefined) set.push(idpSessionSelector(issuer ?? "", idpSessionID));
  if (subject !== undefined) set.push(issuer === undefined ? { kind: "subject", subject } : { kind: "subject", subject, issuer });
  if (email !== undefined) set.push({ kind: "email", email: email.toLowerCase() });
  if (group !== undefined) set.push({ kind: "group", group });
  if (allSessions === true) set.push({ kind: "all" });
  return set;
}

/**
 * An identity provider's login session (`iss`, `sid`): the bus's session selector with the session key only. The
 * placeholder session ID "-" matches no Vigil session (IDs are `s_…`), so sidecars of any version match it by key —
 * every token of that login, whichever Vigil session it started.
 */
export function idpSessionSelector(issuer: string, sid: string): TerminationSelector {
  return { kind: "session", sessionId: IDP_SESSION_PLACEHOLDER, sessionKey: sessionKeyOf({ issuer, sessionClaim: { name: "sid", value: sid } }) };
}

export const IDP_SESSION_PLACEHOLDER = "-";

export function revocationLifetimeMs(revokeFor: string | undefined, absoluteTimeoutsSeconds: readonly number[]): number {
  if (revokeFor !== undefined) {
    const parsed = tryParseDuration(revokeFor);
    if (parsed.ok && parsed.seconds > 0) return Math.ceil(parsed.seconds * 1000);
  }
  const longest = longestTimeoutSeconds(absoluteTimeoutsSeconds);
  return (longest > 0 ? longest : DEFAULT_ABSOLUTE_TIMEOUT_SECONDS) * 1000;
}

/** The longest finite timeout, 0 when there is none (what `revocationLifetimeMs` takes of a namespace's timeouts). */
export function longestTimeoutSeconds(timeoutsSeconds: readonly number[]): number {
  return timeoutsSeconds.reduce((max, s) => (Number.isFinite(s) && s > max ? s : max), 0);
}

const epochMs = z.int().min(0);

/** The plan annotation's schema (an annotation anyone with write access to the object can edit: validated). */
const TerminationPlanSchema = z
  .object({
    v: z.literal(1),
    /** Epoch ms: when propagation started (status.startTime; the timeout counts from here). */
    startedAt: epochMs,
    /** Epoch ms: when the revocation record expires. */
    expiresAt: epochMs,
    /** Pod names (in the termination's namespace) expected to acknowledge, sorted. */
    expected: z.array(z.string().min(1).max(253)),
    /** For a session target: the session's key (found in its sealed record), so the login stays revoked even if Redis loses the session index. */
    sessionKey: z.string().min(1).max(128).optional(),
  })
  .refine((plan) => plan.expiresAt >= plan.startedAt, { path: ["expiresAt"], error: "must not be before startedAt" });

export type TerminationPlan = z.infer<typeof TerminationPlanSchema>;

export function makePlan(now: number, expiresAt: number, livePods: readonly string[], sessionKey?: string): TerminationPlan {
  const expected = [...new Set(livePods)].sort().slice(0, MAX_EXPECTED_SIDECARS);
  return { v: 1, startedAt: now, expiresAt: Math.max(expiresAt, now), expected, ...(sessionKey === undefined ? {} : { sessionKey }) };
}

export function encodePlan(plan: TerminationPlan): string {
  return JSON.stringify(plan);
}

/** The plan in an annotation, or undefined when absent or not a valid plan (then a new one is made). */
export function decodePlan(raw: string | undefined): TerminationPlan | undefined {
  if (raw === undefined || raw.length > 262_144) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = TerminationPlanSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export interface ProgressInput {
  plan: TerminationPlan;
  now: number;
  timeoutMs: number;
  /** Acks for this termination (any pod of the namespace). */
  acks: readonly Ack[];
  /** Pod names of the namespace's sidecars whose heartbeat is live now. */
  live: ReadonlySet<string>;
  /** Epoch ms before which the set of live sidecars is not trusted to be complete (default: no such bound). */
  settledAt?: number;
}

export interface Progress {
  phase: "Propagating" | "Completed" | "Failed";
  sessionsTerminated: number;
  connectionsClosed: number;
  /** Expected sidecars that acknowledged. */
  acknowledged: number;
  expected: number;
  /** Expected sidecars still live and silent (all of them; the status lists at most 64). */
  waitingFor: string[];
  /** Expected sidecars that went away (heartbeat stopped) without acknowledging. */
  gone: string[];
  /** Milliseconds until the timeout (0 once passed). */
  remainingMs: number;
}

export function terminationProgress(input: ProgressInput): Progress {
  const acked = new Set(input.acks.map((a) => a.pod));
  let sessionsTerminated = 0;
  let connectionsClosed = 0;
  for (const a of input.acks) {
    sessionsTerminated += a.sessionsTerminated;
    connectionsClosed += a.connectionsClosed;
  }
  const expected = [...new Set([...input.plan.expected, ...input.live])].sort();
  const silent = expected.filter((pod) => !acked.has(pod));
  const waitingFor = silent.filter((pod) => input.live.has(pod));
  const gone = silent.filter((pod) => !input.live.has(pod));
  const remainingMs = Math.max(0, input.plan.startedAt + input.timeoutMs - input.now);
  const settled = input.settledAt === undefined || input.now >= input.settledAt;
  const phase = waitingFor.length === 0 && settled ? "Completed" : remainingMs === 0 && waitingFor.length > 0 ? "Failed" : "Propagating";
  return {
    phase,
    sessionsTerminated,
    connectionsClosed,
    acknowledged: expected.length - silent.length,
    expected: expected.length,
    waitingFor,
    gone,
    remainingMs: settled ? remainingMs : Math.max(remainingMs, (input.settledAt ?? 0) - input.now),
  };
}

/** Epoch ms of an RFC 3339 time, or undefined. */
export function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}
