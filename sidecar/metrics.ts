/** Prometheus metrics of one sidecar. Gauges are read at scrape time from the live state. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricSources {
  liveConnections: () => number;
  liveSessions: () => number;
  busStalenessSeconds: () => number;
  appliedRevision: () => number;
  invalidBusMessages: () => number;
  audit: () => { emitted: number; dropped: number; written: number; flushFailures: number; queued: number };
}

export interface SidecarMetrics {
  registry: Registry;
  decisions: Counter<"result" | "code">;
  decisionSeconds: Histogram;
  terminationsApplied: Counter;
  /** A termination's bus event read → every covered socket reset (docs/decisions/perf-0006-termination-burst.md). */
  terminationResetSeconds: Histogram;
  /** When the last termination's reset pass ended, epoch seconds (sub-millisecond). */
  terminationLastResetTimestamp: Gauge;
  connectionsClosed: Counter<"reason">;
  protectionFindings: Counter<"code" | "mode">;
}

/** A counter whose value is read from a running total at scrape time. */
function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createMetrics(sources: MetricSources): SidecarMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge("vigil_sidecar_live_connections", "Live client connections (HTTP keep-alive, WebSocket, tunnel).", sources.liveConnections);
  gauge("vigil_sidecar_live_sessions", "Sessions with at least one live connection.", sources.liveSessions);
  gauge("vigil_sidecar_bus_staleness_seconds", "Seconds since the last successful read of the policy bus.", sources.busStalenessSeconds);
  gauge("vigil_sidecar_applied_revision", "Highest policy-bus revision applied.", sources.appliedRevision);
  gauge("vigil_sidecar_bus_invalid_messages", "Bus entries skipped because they did not validate.", sources.invalidBusMessages);
  counterOf(registry, "vigil_sidecar_audit_events_total", "Audit events reported (queued for the log and the audit stream).", () => sources.audit().emitted);
  counterOf(
    registry,
    "vigil_sidecar_audit_events_dropped_total",
    "Audit events dropped because the bounded audit queue was full.",
    () => sources.audit().dropped,
  );
  counterOf(registry, "vigil_sidecar_audit_entries_written_total", "Sealed entries written to the audit stream.", () => sources.audit().written);
  counterOf(registry, "vigil_sidecar_audit_flush_failures_total", "Failed writes to the audit stream (retried).", () => sources.audit().flushFailures);
  gauge("vigil_sidecar_audit_queue_depth", "Audit events waiting for the next flush.", () => sources.audit().queued);
  return {
    registry,
    decisions: new Counter({
      name: "vigil_sidecar_decisions_total",
      help: "Admission decisions by result and code.",
      labelNames: ["result", "code"],
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: "vigil_sidecar_decision_seconds",
      help: "Time to admit a request or flow (token, session, policy).",
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
    terminationsApplied: new Counter({
      name: "vigil_sidecar_terminations_applied_total",
      help: "Terminations applied to live connections.",
      registers: [registry],
    }),
    terminationResetSeconds: new Histogram({
      name: "vigil_sidecar_termination_reset_seconds",
      help: "Time from reading a termination on the bus to the reset of every live socket it covers (terminations that reset any).",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    terminationLastResetTimestamp: new Gauge({
      name: "vigil_sidecar_termination_last_reset_timestamp_seconds",
      help: "When the last termination that reset sockets had reset all of them (Unix time, sub-millisecond).",
      registers: [registry],
    }),
    connectionsClosed: new Counter({
      name: "vigil_sidecar_connections_closed_total",
      help: "Live connections closed by Vigil, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    protectionFindings: new Counter({
      name: "vigil_sidecar_protection_findings_total",
      help: "Session-protection findings by code and mode (Audit recorded, Enforce refused).",
      labelNames: ["code", "mode"],
      registers: [registry],
    }),
  };
}
