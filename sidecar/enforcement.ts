/**
 * The rules of enforcement: what a sidecar does when its view of the bus changes, and on its one-second sweep.
 * No timers and no Redis of its own: the assembly (app.ts) calls it; acknowledgements go through `reporter`.
 *
 * - Policies changed → every long-lived flow (WebSocket, tunnel, in-flight request) is re-evaluated and the ones
 *   the new policy denies are reset.
 * - A revocation new to the view → at once, synchronously: RST every live flow it covers (first, before any other
 *   work: docs/decisions/perf-0006-termination-burst.md), end the cached sessions it covers, drop cached token
 *   verifications it covers (one rule: operator/api/bus/coverage.ts); then persist the ended sessions and acknowledge
 *   once with the counts. The time from reading the event to the last reset is a metric.
 * - Acknowledgements are written one pass at a time, in the background: the bus subscriber never waits for them, so
 *   a termination read right after another one is applied at once, not after the first one's Redis round trips.
 * - The bus was rebuilt (new epoch; Redis may have lost the acknowledgements) → every revocation applied and still
 *   in force is acknowledged again with the counts it had. A failed acknowledgement is retried on the next
 *   snapshot or confirmation.
 * - `sweep(now)` drops expired revocations, forgets the ones gone from the view, closes sessions past their
 *   idle or absolute timeout (flows reset with that reason), ends cached sessions past it that have no live flow
 *   (the store re-reads idle ones first), reports long-lived flows and their byte counters, and lets the audit
 *   report due activity.
 * - Every applied termination is also an audit event (`termination.applied`); the sessions it ended and the flows
 *   it reset are reported by the store and the connection table themselves.
 */
import type { Logger } from "pino";
import { covers } from "../operator/api/bus/coverage.ts";
import { terminationOfRevocation } from "../operator/api/audit/events.ts";
import type { Ack, Revocation } from "../operator/api/bus/messages.ts";
import type { TokenVerifier } from "./auth/jwt.ts";
import type { LiveFlow, ConnectionTable } from "./sessions/connections.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { PolicyView, ViewChange } from "./policy/view.ts";
import { strictestTimeouts, type Timeouts } from "./sessions/record.ts";
import { coveredIdentity } from "./sessions/session-key.ts";
import type { SessionStore } from "./sessions/store.ts";

export interface EnforcementDeps {
  pod: string;
  namespace: string;
  view: PolicyView;
  connections: ConnectionTable;
  store: Pick<SessionStore, "endCovered" | "flush"> & Partial<Pick<SessionStore, "expire">>;
  /** The audit (sidecar/audit/sidecar-audit.ts); absent in tests that do not look at it. */
  audit?: { terminationApplied(termination: string, sessions: number, connections: number): void; tick(now: number): void };
  verifier: Pick<TokenVerifier, "invalidateWhere">;
  reporter: { ack(ack: Ack): Promise<void> };
  stillAllowed: (flow: LiveFlow) => boolean;
  metrics: Pick<SidecarMetrics, "terminationsApplied" | "connectionsClosed" | "terminationResetSeconds" | "terminationLastResetTimestamp">;
  logger: Logger;
  defaultTimeouts: Timeouts;
  now: () => number;
}

interface Applied {
  sessions: number;
  connections: number;
  acked: boolean;
}

export class Enforcement {
  readonly #d: EnforcementDeps;
  readonly #applied = new Map<string, Applied>();
  #expiring = false;
  /** The acknowledgement pass running (null: none), and whether another one must follow it. */
  #acking: Promise<void> | null = null;
  #ackAgain = false;

  constructor(deps: EnforcementDeps) {
    this.#d = deps;
  }

  /** Revocations applied (by id) with their counts; for tests and diagnostics. */
  applied(id: string): Readonly<Applied> | undefined {
    return this.#applied.get(id);
  }

  /**
   * Applies a change of the view synchronously (`readAt`: `performance.now()` when it was read from the bus) and
   * starts acknowledging in the background; the promise settles when that acknowledgement pass did (tests).
   */
  onViewChange(change: ViewChange, readAt = performance.now()): Promise<void> {
    for (const revocation of change.newRevocations) this.#apply(revocation, this.#d.now(), readAt);
    if (change.policiesChanged) this.#reevaluate();
    if (change.newEpoch) for (const applied of this.#applied.values()) applied.acked = false;
    return this.#acknowledgeSoon();
  }

  /** The bus was confirmed live: a good moment to retry acknowledgements that failed. */
  onConfirmed(): Promise<void> {
    return this.#acknowledgeSoon();
  }

  sweep(now: number): void {
    const { view, connections, metrics } = this.#d;
    view.prune(now);
    for (const id of this.#applied.keys()) if (!view.hasRevocation(id)) this.#applied.delete(id);
    const { idleTimeoutMs, absoluteTimeoutMs } = strictestTimeouts(view.selected, this.#d.defaultTimeouts);
    const expired = connections.expire(now, () => ({ idleMs: idleTimeoutMs, absoluteMs: absoluteTimeoutMs }));
    if (expired.connections > 0) metrics.connectionsClosed.inc({ reason: "expired" }, expired.connections);
    connections.report(now);
    this.#d.audit?.tick(now);
    this.#expireSessions(now);
  }

  /** One pass at a time over the store's cached sessions (it may read Redis). */
  #expireSessions(now: number): void {
    const { store, connections } = this.#d;
    if (store.expire === undefined || this.#expiring) return;
    this.#expiring = true;
    store
      .expire(now, connections.liveSessionIds())
      .catch(() => 0)
      .finally(() => {
        this.#expiring = false;
      });
  }

  #reevaluate(): void {
    const closed = this.#d.connections.reevaluate(this.#d.stillAllowed);
    if (closed.connections === 0) return;
    this.#d.metrics.connectionsClosed.inc({ reason: "policy" }, closed.connections);
    this.#d.logger.info(
      { event: "policy.flows_closed", connections: closed.connections, sessions: closed.sessions, revision: this.#d.view.revision },
      "closed flows the new policy denies",
    );
  }

  #apply(revocation: Revocation, now: number, readAt: number): void {
    if (this.#applied.has(revocation.id) || revocation.expiresAt <= now) return;
    const { connections, store, verifier, metrics, logger } = this.#d;
    const closed = connections.terminate(revocation, now);
    if (closed.connections > 0) {
      metrics.terminationResetSeconds.observe((connections.lastResetAt - readAt) / 1000);
      metrics.terminationLastResetTimestamp.set((performance.timeOrigin + connections.lastResetAt) / 1000);
    }
    const ended = store.endCovered(revocation, now);
    verifier.invalidateWhere((p) => covers(revocation, coveredIdentity(p, ""), p.issuedAt * 1000, now));
    const applied: Applied = { sessions: Math.max(closed.sessions, ended.length), connections: closed.connections, acked: false };
    this.#applied.set(revocation.id, applied);
    metrics.terminationsApplied.inc();
    this.#d.audit?.terminationApplied(terminationOfRevocation(revocation.id), applied.sessions, applied.connections);
    metrics.connectionsClosed.inc({ reason: "terminated" }, closed.connections);
    logger.info(
      {
        event: "termination.applied",
        termination: revocation.id,
        selector: revocation.selector.kind,
        sessions: applied.sessions,
        connections: applied.connections,
      },
      "termination applied to live connections",
    );
  }

  /** One acknowledgement pass at a time; a request during a pass runs one more pass after it. */
  #acknowledgeSoon(): Promise<void> {
    if (this.#acking !== null) {
      this.#ackAgain = true;
      return this.#acking;
    }
    this.#ackAgain = true;
    const run = async (): Promise<void> => {
      while (this.#ackAgain) {
        this.#ackAgain = false;
        await this.#acknowledge();
      }
    };
    this.#acking = run()
      .catch(() => undefined) // #acknowledge logs its failures; nothing may reject unobserved here
      .finally(() => {
        this.#acking = null;
      });
    return this.#acking;
  }

  async #acknowledge(): Promise<void> {
    const pending = [...this.#applied].filter(([, a]) => !a.acked);
    if (pending.length === 0) return;
    await this.#d.store.flush().catch((err: unknown) => {
      this.#d.logger.warn({ event: "session.flush_failed", err }, "ended sessions could not be persisted yet; will retry");
    });
    for (const [id, applied] of pending) {
      try {
        await this.#d.reporter.ack({
          v: 2,
          terminationId: id,
          pod: this.#d.pod,
          namespace: this.#d.namespace,
          sessionsTerminated: applied.sessions,
          connectionsClosed: applied.connections,
          at: this.#d.now(),
        });
        applied.acked = true;
      } catch (err: unknown) {
        this.#d.logger.warn({ event: "termination.ack_failed", termination: id, err }, "acknowledgement failed; will retry");
        return;
      }
    }
  }
}
