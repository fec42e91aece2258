/**
 * The audit ingest (I/O shell), run by EVERY operator replica: each keeps its own SessionIndex, so each reads the
 * whole stream.
 *
 * - Tails `P audit` with XREAD BLOCK on a connection of its own (a blocking read holds its connection; the ack
 *   watcher's XREAD must not wait behind it). It starts from the beginning of the stream, so a restarted replica
 *   rebuilds its index from what the capped stream still holds, then follows new entries.
 * - Every entry is opened with the key ring and validated (open-entry.ts); a refused entry is counted
 *   (`vigil_operator_audit_entries_total{result="refused"}`, `vigil_operator_audit_entries_refused_total{code}`)
 *   and logged (rate-limited, code VO030W), never fatal. Valid events feed the index (apply.ts).
 * - Every `livenessMs` the live heartbeats (`liveSidecars`) mark the reporting pods live or stale (liveness.ts).
 * - Redis errors back off (≤ 5 s) and retry; a key of the wrong type (a rogue writer) is removed (it holds no audit
 *   data), counted and logged. `stop()` ends both loops.
 */
import type { Redis } from "ioredis";
import { Counter, Gauge, type Registry } from "prom-client";
import { AUDIT_ENTRY_REFUSALS } from "../api/audit/catalogue.ts";
import { AUDIT_PURPOSE } from "../api/audit/stream.ts";
import type { Heartbeat } from "../api/bus/messages.ts";
import { parseXreadEntries } from "../api/bus/replies.ts";
import { LogThrottle } from "../../lib/log-throttle.ts";
import type { Logger } from "../../lib/log.ts";
import type { KeyRing } from "../../lib/sealing.ts";
import { errorFields } from "../errors.ts";
import type { SessionIndex } from "../sessions-api/index/session-index.ts";
import { applyAuditEvent } from "./apply.ts";
import { ReporterLiveness } from "./liveness.ts";
import { openAuditEntry, SequenceMemory } from "./open-entry.ts";

/**
 * Entries per XREAD. An entry holds up to MAX_BATCH_EVENTS (256) events, so one read holds up to 12,800 events in
 * memory at once: the operator's transient memory stays bounded under its container limit whatever the backlog.
 */
const READ_BATCH_ENTRIES = 50;

export interface AuditIngestOptions {
  /** A connection for this reader alone (XREAD BLOCK). */
  redis: Redis;
  streamKey: string;
  keyRing: Pick<KeyRing, "for">;
  index: SessionIndex;
  liveSidecars: () => Promise<Pick<Heartbeat, "namespace" | "pod">[]>;
  log: Logger;
  registry?: Registry;
  blockMs?: number;
  livenessMs?: number;
  batch?: number;
}

export interface AuditIngestStats {
  entries: number;
  refused: Record<string, number>;
  events: number;
  lastId: string;
}

export class AuditIngest {
  readonly #o: AuditIngestOptions;
  readonly #sealer;
  readonly #sequences = new SequenceMemory();
  readonly #liveness = new ReporterLiveness();
  readonly #throttle: LogThrottle;
  readonly #metrics: { entries: Counter<"result">; refused: Counter<"code">; events: Counter<"result">; stale: Gauge } | undefined;
  readonly #stats: AuditIngestStats = { entries: 0, refused: {}, events: 0, lastId: "0" };
  #stopped = false;
  #loops: Promise<void>[] = [];
  readonly #wakers = new Set<() => void>();

  constructor(options: AuditIngestOptions) {
    this.#o = options;
    this.#sealer = options.keyRing.for(AUDIT_PURPOSE);
    this.#throttle = new LogThrottle({ log: options.log, message: "audit stream entry refused" });
    const registers = options.registry === undefined ? undefined : [options.registry];
    if (registers !== undefined) {
      const refused = new Counter({
        name: "vigil_operator_audit_entries_refused_total",
        help: "Audit stream entries refused, by code.",
        labelNames: ["code"],
        registers,
      });
      for (const code of AUDIT_ENTRY_REFUSALS) refused.inc({ code }, 0);
      this.#metrics = {
        entries: new Counter({
          name: "vigil_operator_audit_entries_total",
          help: "Audit stream entries read, by result (applied, refused).",
          labelNames: ["result"],
          registers,
        }),
        refused,
        events: new Counter({
          name: "vigil_operator_audit_events_total",
          help: "Audit events read, by result (applied, ignored, rejected by the index, invalid).",
          labelNames: ["result"],
          registers,
        }),
        stale: new Gauge({ name: "vigil_operator_audit_stale_sidecars", help: "Pods that reported sessions and no longer heartbeat.", registers }),
      };
    }
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  stats(): AuditIngestStats {
    return { ...this.#stats, refused: { ...this.#stats.refused } };
  }

  start(): void {
    this.#loops = [this.#tail(), this.#watchLiveness()];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of this.#wakers) wake();
    this.#o.redis.disconnect();
    await Promise.all(this.#loops);
  }

  /** Applies one raw entry (field/value list); exported for the tests of rogue entries. */
  ingest(fields: readonly string[]): void {
    this.#stats.entries += 1;
    const opened = openAuditEntry(this.#sealer, fields, this.#sequences);
    if (!opened.ok) {
      this.#stats.refused[opened.code] = (this.#stats.refused[opened.code] ?? 0) + 1;
      this.#metrics?.entries.inc({ result: "refused" });
      this.#metrics?.refused.inc({ code: opened.code });
      this.#throttle.report(opened.code, { event: "audit.refused", code: "VO030W", reason: opened.code, problem: opened.problem });
      return;
    }
    this.#metrics?.entries.inc({ result: "applied" });
    if (opened.invalid > 0) {
      this.#metrics?.events.inc({ result: "invalid" }, opened.invalid);
      this.#throttle.report("AUDIT_EVENT_INVALID", {
        event: "audit.refused",
        code: "VO030W",
        reason: "AUDIT_EVENT_INVALID",
        problem: opened.firstProblem ?? "",
      });
    }
    const [namespace = "", pod = ""] = opened.origin.split("/");
    this.#liveness.reported(namespace, pod);
    for (const e of opened.events) {
      this.#stats.events += 1;
      const result = applyAuditEvent(this.#o.index, e); // not inside `?.(…)`: it must run without metrics too
      this.#metrics?.events.inc({ result });
    }
  }

  async #tail(): Promise<void> {
    const { redis, streamKey } = this.#o;
    let failures = 0;
    while (!this.#stopped) {
      try {
        const reply = await redis.call(
          "XREAD",
          "COUNT",
          String(this.#o.batch ?? READ_BATCH_ENTRIES),
          "BLOCK",
          String(this.#o.blockMs ?? 5000),
          "STREAMS",
          streamKey,
          this.#stats.lastId,
        );
        failures = 0;
        for (const { id, fields } of parseXreadEntries(reply, streamKey)) {
          this.#stats.lastId = id;
          this.ingest(fields);
        }
      } catch (err) {
        if (this.stopped) return;
        failures += 1;
        const { err: message } = errorFields(err);
        if (message.includes("WRONGTYPE")) await this.#repair();
        this.#throttle.report(`redis ${message}`, { event: "audit.read_failed", err: message });
        await this.#sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** `P audit` is not a stream (a rogue writer): it holds no audit data, remove it so sidecars can write again. */
  async #repair(): Promise<void> {
    const { redis, streamKey } = this.#o;
    const type = await redis.type(streamKey).catch(() => "none");
    if (type === "stream" || type === "none") return;
    await redis.del(streamKey).catch(() => 0);
    this.#stats.refused["AUDIT_STREAM_WRONGTYPE"] = (this.#stats.refused["AUDIT_STREAM_WRONGTYPE"] ?? 0) + 1;
    this.#o.log.warn({ event: "audit.refused", code: "VO030W", reason: "AUDIT_STREAM_WRONGTYPE", type }, "the audit stream key held another type; removed it");
  }

  async #watchLiveness(): Promise<void> {
    while (!this.#stopped) {
      try {
        const live = await this.#o.liveSidecars();
        const stale = this.#liveness.update(this.#o.index, live);
        this.#metrics?.stale.set(stale);
      } catch (err) {
        this.#throttle.report("liveness", { event: "audit.liveness_failed", err: errorFields(err).err });
      }
      await this.#sleep(this.#o.livenessMs ?? 2000);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}
