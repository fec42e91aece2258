/**
 * The audit reporter (I/O shell): events in, JSON lines on stdout and sealed entries on the capped stream `P audit`
 * out — never on the request path.
 *
 * Contract:
 * - `emit(event)` is synchronous and cheap: the event goes into a bounded queue (queue.ts); when the queue is full
 *   it is dropped and counted (`vigil_sidecar_audit_events_dropped_total`, and one `audit.dropped` event in the
 *   next flush). A full batch schedules a flush on the next turn of the event loop; otherwise the timer flushes
 *   every `flushMs` (default 250 ms).
 * - A flush takes up to `batchSize` events, fills in correlation ids, writes each event's log form
 *   (operator/api/audit/log-form.ts) through the logger, seals the batch with the key ring's `audit` purpose, AAD
 *   subject `<namespace>/<pod>|<incarnation>|<sequence>` (operator/api/audit/stream.ts), and XADDs it with
 *   `MAXLEN ~ streamMaxLength`. Flushes never overlap.
 * - Redis unavailable: the sealed entry is kept (one, with its sequence) and retried on the next flush while new
 *   events wait in the queue (bounded as ever); failures are counted, never thrown. Logging does not wait for Redis.
 * - `stop()` flushes what is queued (one last attempt) and stops the timer.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { AuditEvent } from "../../operator/api/audit/events.ts";
import { auditLogFields, auditLogMessage } from "../../operator/api/audit/log-form.ts";
import { MAX_BATCH_EVENTS } from "../../operator/api/audit/schema.ts";
import { AUDIT_FIELDS, auditSubject } from "../../operator/api/audit/stream.ts";
import type { Correlator } from "../../lib/correlation.ts";
import type { Sealer } from "../../lib/sealing.ts";
import { BoundedQueue } from "./queue.ts";

export interface AuditSink {
  emit(event: AuditEvent): void;
}

export interface AuditReporterOptions {
  redis: Pick<Redis, "xadd">;
  /** `P audit`. */
  streamKey: string;
  sealer: Sealer;
  correlate: Correlator;
  workload: { namespace: string; pod: string };
  logger: Logger;
  queueSize?: number;
  flushMs?: number;
  batchSize?: number;
  streamMaxLength?: number;
  now?: () => number;
}

export interface AuditStats {
  emitted: number;
  dropped: number;
  written: number;
  flushFailures: number;
  queued: number;
}

/** Sealed entries stay well below what a reader accepts (lib/sealing.ts MAX_SEALED_LENGTH). */
const MAX_ENTRY_BYTES = 128 * 1024;

/** Consecutive chunks of at most `maxBytes` of JSON each (an event larger than that alone in its chunk). */
function bySize(events: AuditEvent[], maxBytes: number): AuditEvent[][] {
  const chunks: AuditEvent[][] = [];
  let current: AuditEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = JSON.stringify(e).length;
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

interface Sealed {
  sequence: number;
  data: string;
}

export class AuditReporter implements AuditSink {
  readonly incarnation = randomBytes(8).toString("hex");
  readonly #o: AuditReporterOptions;
  readonly #queue: BoundedQueue<AuditEvent>;
  readonly #origin: string;
  readonly #batchSize: number;
  readonly #maxLength: string;
  readonly #now: () => number;
  #sequence = 0;
  /** Sealed entries not written yet (Redis unavailable), oldest first. */
  readonly #pending: Sealed[] = [];
  #flushing: Promise<void> | undefined;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #emitted = 0;
  #written = 0;
  #failures = 0;

  constructor(options: AuditReporterOptions) {
    this.#o = options;
    this.#queue = new BoundedQueue(options.queueSize ?? 10_000);
    this.#origin = `${options.workload.namespace}/${options.workload.pod}`;
    this.#batchSize = Math.min(options.batchSize ?? MAX_BATCH_EVENTS, MAX_BATCH_EVENTS);
    this.#maxLength = String(options.streamMaxLength ?? 100_000);
    this.#now = options.now ?? Date.now;
  }

  stats(): AuditStats {
    return { emitted: this.#emitted, dropped: this.#queue.droppedTotal, written: this.#written, flushFailures: this.#failures, queued: this.#queue.size };
  }

  emit(event: AuditEvent): void {
    this.#emitted += 1;
    if (!this.#queue.push(event)) return;
    if (this.#queue.size >= this.#batchSize && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.flush();
      });
    }
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      void this.flush();
    }, this.#o.flushMs ?? 250);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** One flush at a time; a call while one runs waits for it and then runs again. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    while (this.#pending.length > 0) {
      if (!(await this.#write(this.#pending[0] as Sealed))) return;
      this.#pending.shift();
    }
    while (this.#queue.size > 0) {
      const events = this.#queue.drain(this.#batchSize);
      const dropped = this.#queue.takeDropped();
      if (dropped > 0)
        events.push({ v: 1, event: "audit.dropped", code: "VS005W", time: this.#now(), outcome: "failure", workload: this.#o.workload, dropped });
      for (const e of events) {
        if ("cid" in e) e.cid = this.#o.correlate(e.sessionId);
        this.#o.logger.info(auditLogFields(e), auditLogMessage(e));
      }
      for (const chunk of bySize(events, MAX_ENTRY_BYTES)) {
        this.#sequence += 1;
        this.#pending.push({
          sequence: this.#sequence,
          data: this.#o.sealer.seal(auditSubject(this.#origin, this.incarnation, this.#sequence), { v: 1, events: chunk }),
        });
      }
      while (this.#pending.length > 0) {
        if (!(await this.#write(this.#pending[0] as Sealed))) return;
        this.#pending.shift();
      }
    }
  }

  async #write(entry: Sealed): Promise<boolean> {
    const f = AUDIT_FIELDS;
    try {
      await this.#o.redis.xadd(
        this.#o.streamKey,
        "MAXLEN",
        "~",
        this.#maxLength,
        "*",
        f.origin,
        this.#origin,
        f.incarnation,
        this.incarnation,
        f.sequence,
        String(entry.sequence),
        f.data,
        entry.data,
      );
      this.#written += 1;
      return true;
    } catch {
      this.#failures += 1;
      return false;
    }
  }
}
