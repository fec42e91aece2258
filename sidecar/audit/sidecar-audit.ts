/**
 * What a sidecar reports as audit events, and where it learns it — the glue between the sidecar's parts and the
 * reporter (reporter.ts), built once by app.ts:
 *
 * - `sessionEvents` for the session store: `session.start` (first seen on this workload), `session.end` (idle,
 *   absolute, terminated by which SessionTermination);
 * - `flows` for the connection table: `flow.open` / `flow.progress` / `flow.close`;
 * - `gateObserver` for the gate's instrumentation (gate-metrics.ts): an admitted request is one `note` in the activity
 *   tracker (activity.ts: no allocation in the steady state), a refusal of a known session becomes
 *   `session.refused`, a refusal before any session (no or bad credential, revoked token) `access.refused`, both
 *   folded per (session or client, code, policy, rule) over `activityIntervalMs` (refusals.ts);
 * - `tick(now)` (the sweep): due `session.activity` reports and folded refusals;
 * - `protections` for the session protections (sidecar/protect/guard.ts): each finding as its `protection.*` event
 *   with its evidence, each new location of a session as `session.located`;
 * - `terminationApplied(...)` from enforcement.ts.
 * Nothing here waits on I/O: every event goes to the reporter's bounded queue.
 */
import type { AuditFlowKind } from "../../operator/api/audit/catalogue.ts";
import type { AuditWorkload, Refusal } from "../../operator/api/audit/events.ts";
import type { Principal } from "../auth/types.ts";
import { isSidecarError } from "../errors.ts";
import type { GateObserver } from "../gate-metrics.ts";
import type { ProtectionEvents } from "../protect/events.ts";
import type { FlowBinding, FlowObserver } from "../sessions/connections.ts";
import type { SessionRecord } from "../sessions/record.ts";
import type { SessionEvents } from "../sessions/store.ts";
import { ActivityTracker } from "./activity.ts";
import * as build from "./build.ts";
import { RefusalFolder } from "./refusals.ts";
import type { AuditSink } from "./reporter.ts";

export interface SidecarAuditOptions {
  sink: AuditSink;
  workload: AuditWorkload;
  /** The session a principal belongs to on this sidecar (the store's cache). */
  sessionOf: (principal: Principal) => SessionRecord | undefined;
  /** Throttle of activity reports and refusal folding. Default 10 s. */
  activityIntervalMs?: number;
  now?: () => number;
}

interface RefusalNote {
  sessionId: string | undefined;
  principal: Principal | undefined;
  clientIP: string;
  flowKind: AuditFlowKind;
  refusal: Refusal;
}

export class SidecarAudit {
  readonly #o: SidecarAuditOptions;
  readonly #now: () => number;
  readonly #activity: ActivityTracker<Principal>;
  readonly #refusals: RefusalFolder<RefusalNote>;

  constructor(options: SidecarAuditOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const intervalMs = options.activityIntervalMs ?? 10_000;
    this.#activity = new ActivityTracker({ intervalMs });
    this.#refusals = new RefusalFolder(intervalMs);
  }

  readonly sessionEvents: SessionEvents = {
    started: (record, clientIp) => {
      this.#o.sink.emit(build.sessionStart(this.#o.workload, record, clientIp, this.#now()));
    },
    ended: (record, detail) => {
      const reason = build.endReasonOf(record);
      this.#o.sink.emit(build.sessionEnd(this.#o.workload, record.id, reason, record.endedAt ?? this.#now(), detail));
    },
  };

  readonly flows: FlowObserver = {
    opened: (binding, flow, now) => {
      this.#o.sink.emit(build.flowOpen(this.#o.workload, binding.sessionId, flow, now));
    },
    progressed: (binding, flow, now) => {
      this.#o.sink.emit(build.flowProgress(this.#o.workload, binding.sessionId, flow, now));
    },
    closed: (binding: FlowBinding, flow, reason, now) => {
      this.#o.sink.emit(build.flowClose(this.#o.workload, binding.sessionId, flow, reason, now));
    },
  };

  readonly protections: ProtectionEvents = {
    finding: (f) => {
      this.#o.sink.emit(build.sessionFinding(this.#o.workload, f));
    },
    located: (e) => {
      this.#o.sink.emit(build.sessionLocated(this.#o.workload, e.sessionId, e.location, e.time));
    },
  };

  terminationApplied(termination: string, sessions: number, connections: number): void {
    this.#o.sink.emit(build.terminationApplied(this.#o.workload, termination, sessions, connections, this.#now()));
  }

  /** The gate's observer (gate-metrics.ts): activity and refusals (see the file comment). */
  readonly gateObserver: GateObserver = {
    decided: (principal, facts, decision) => {
      if (decision.allowed) this.#activity.note(principal, facts.clientIp, decision.policy, decision.rule, this.#now());
      else
        this.#refused(principal, facts.clientIp, kindOf(facts.method), {
          code: decision.code,
          status: 403,
          ...(decision.policy === undefined ? {} : { policy: decision.policy }),
          ...(decision.rule === undefined ? {} : { rule: decision.rule }),
        });
    },
    refused: (principal, clientIp, kind, err) => {
      if (!isSidecarError(err)) return;
      this.#refused(principal, clientIp, kind, { code: err.code, status: err.status });
    },
  };

  /** The sweep: due activity reports, folded refusals. */
  tick(now = this.#now()): void {
    for (const report of this.#activity.due(now)) {
      const session = this.#o.sessionOf(report.key);
      if (session === undefined) continue;
      this.#o.sink.emit(build.sessionActivity(this.#o.workload, session.id, report.key, report));
    }
    for (const folded of this.#refusals.flush(now)) this.#emitRefusal(folded.value, folded.count, now);
  }

  #refused(principal: Principal | undefined, clientIP: string, flowKind: AuditFlowKind, refusal: Refusal): void {
    const sessionId = principal === undefined ? undefined : this.#o.sessionOf(principal)?.id;
    const now = this.#now();
    const note: RefusalNote = { sessionId, principal, clientIP, flowKind, refusal };
    const key = `${sessionId ?? clientIP}|${flowKind}|${refusal.code}|${refusal.policy ?? ""}|${refusal.rule ?? ""}`;
    if (this.#refusals.note(key, note, now)) this.#emitRefusal(note, 1, now);
  }

  #emitRefusal(note: RefusalNote, count: number, now: number): void {
    const { workload, sink } = this.#o;
    const refused = { clientIP: note.clientIP, flowKind: note.flowKind, refusal: note.refusal, count };
    if (note.sessionId !== undefined && note.principal !== undefined) {
      sink.emit(build.sessionRefused(workload, note.sessionId, note.principal, refused, now));
    } else {
      sink.emit(build.accessRefused(workload, refused, now));
    }
  }
}

function kindOf(method: string): AuditFlowKind {
  return method === "CONNECT" ? "tunnel" : "http";
}
