/**
 * The benchmark's sidecars, as far as the sessions API sees them: one `AuditReporter` per pod — the sidecar's own
 * reporting code (sidecar/audit/reporter.ts: bounded queue, 250 ms flushes, batches sealed with the chart's key
 * ring onto the capped stream) — fed with the audit events a sidecar builds (sidecar/audit/build.ts) for the
 * benchmark's sessions (workload.ts): `session.start`, `session.activity`, and `flow.open` for one in five. Running
 * 50 sidecar processes on a 2-core machine would measure the machine, not the sessions API: the reporters share
 * this process, everything after them (Redis, the operator's ingest, the index, the API) is the real path.
 */
import type { Redis } from "ioredis";
import type { AuditEvent } from "../../operator/api/audit/events.ts";
import { createLogger } from "../../lib/log.ts";
import { correlator } from "../../lib/correlation.ts";
import type { KeyRing } from "../../lib/sealing.ts";
import { AUDIT_PURPOSE } from "../../operator/api/audit/stream.ts";
import * as build from "../../sidecar/audit/build.ts";
import { AuditReporter } from "../../sidecar/audit/reporter.ts";
import { sessionRecords, type WorkloadShape } from "./workload.ts";

export interface Reporters {
  /** Emits the events of session `i` on its pod's reporter; returns its id, namespace and how many events. */
  report(i: number, now: number): { sessionId: string; namespace: string; events: number };
  flush(): Promise<void>;
  stop(): Promise<void>;
  /** The pods (namespace, pod) that report, all live. */
  pods(): { namespace: string; pod: string }[];
}

export function auditEventsOf(i: number, shape: WorkloadShape, now: number): AuditEvent[] {
  const { seen, flow } = sessionRecords(i, shape, now);
  const workload = { namespace: seen.workload.namespace, pod: seen.workload.pod };
  const who = seen.identity;
  const start: AuditEvent = {
    v: 1,
    event: "session.start",
    code: "VS001I",
    time: seen.time,
    outcome: "success",
    workload,
    sessionId: seen.sessionId,
    cid: "",
    identity: build.identityOf(who),
    clientIP: seen.clientIP,
    ...(seen.userAgent === undefined ? {} : { userAgent: seen.userAgent }),
    startTime: seen.startTime ?? seen.time,
  };
  const events: AuditEvent[] = [
    start,
    build.sessionActivity(workload, seen.sessionId, who, {
      requests: seen.requests ?? 1,
      clientIP: seen.clientIP,
      policy: "team-access",
      rule: "engineers",
      lastAt: seen.time,
    }),
  ];
  if (flow !== undefined)
    events.push(
      build.flowOpen(
        workload,
        seen.sessionId,
        {
          id: flow.flowId,
          kind: flow.kind === "stream" ? "stream" : flow.kind,
          peer: flow.peer,
          port: flow.port,
          openedAt: flow.openedAt,
          bytesIn: flow.bytesIn,
          bytesOut: flow.bytesOut,
        },
        now,
      ),
    );
  return events;
}

export function startReporters(redis: Redis, streamKey: string, ring: KeyRing, shape: WorkloadShape): Reporters {
  const logger = createLogger({ name: "vigil-sidecar", level: "silent" });
  const correlate = correlator(ring);
  const sealer = ring.for(AUDIT_PURPOSE);
  const byPod = new Map<string, AuditReporter>();
  const reporterOf = (namespace: string, pod: string): AuditReporter => {
    const key = `${namespace}/${pod}`;
    let r = byPod.get(key);
    if (r === undefined) {
      r = new AuditReporter({ redis, streamKey, sealer, correlate, workload: { namespace, pod }, logger, queueSize: 100_000 });
      r.start();
      byPod.set(key, r);
    }
    return r;
  };
  return {
    report(i, now) {
      const events = auditEventsOf(i, shape, now);
      const first = events[0];
      if (first === undefined || !("sessionId" in first)) throw new Error("no session.start");
      const reporter = reporterOf(first.workload.namespace, first.workload.pod);
      for (const e of events) reporter.emit(e);
      return { sessionId: first.sessionId, namespace: first.workload.namespace, events: events.length };
    },
    async flush() {
      await Promise.all([...byPod.values()].map((r) => r.flush()));
    },
    async stop() {
      await Promise.all([...byPod.values()].map((r) => r.stop()));
    },
    pods: () =>
      [...byPod.keys()].map((k) => {
        const [namespace = "", pod = ""] = k.split("/");
        return { namespace, pod };
      }),
  };
}
