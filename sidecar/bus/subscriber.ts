/**
 * The SIDECAR side of the policy bus: follows ONE namespace (its own) and hands verified state to the view.
 * The sidecar creates the ioredis connections and passes them in: `redis` for ordinary commands and
 * `blocking`, a dedicated connection for XREAD BLOCK.
 *
 * - A snapshot is read in one MULTI (epoch record, namespace head, entries, newest stream ID) and accepted only
 *   when it verifies whole (operator/api/bus/snapshot.ts) and is not older than what was applied: an older epoch
 *   (by creation time) or, within the epoch, an older head is refused as BUS_REPLAYED. A bus without a valid
 *   epoch record (Redis restarted empty, a key damaged, a forged record) or a namespace without a head yet is
 *   NOT applied: the view keeps what it has and grows stale, it is never emptied.
 * - Then it XREADs the namespace stream. Each entry must be a signed event of this namespace: an event of
 *   another epoch triggers a reload; `prev` equal to the applied revision is applied; a revision at or below
 *   the applied one is a replay (counted, skipped); anything else is a gap (reload). Unsigned, mis-signed and
 *   malformed entries are counted and skipped.
 * - After every empty XREAD (default 2 s) one MULTI re-reads the epoch record and the head revision: a new
 *   epoch or a head ahead of us reloads; a valid record confirms the bus is live (`onConfirmed(signedAt)`), which
 *   is what the sidecar measures staleness from (the operator re-signs it every few seconds).
 * - Redis errors and handler errors back off (100 ms … 5 s) and reload. The loop never throws; it resolves
 *   when `signal` aborts. Every refusal is reported through `onIssue` with its stable code.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { BusErrorCode } from "../../operator/api/bus/codec.ts";
import { openAs, type VerifyingKeys } from "../../operator/api/bus/envelope.ts";
import { busKeys, DEFAULT_BUS_PREFIX, STREAM_MESSAGE_FIELD, type NamespaceKeys } from "../../operator/api/bus/keys.ts";
import type { EpochBody, EventBody } from "../../operator/api/bus/messages.ts";
import { execValues, parseCounter, parseRange, parseXread, type StreamEntry } from "../../operator/api/bus/replies.ts";
import { verifyEpoch, verifyNamespace, type NamespaceSnapshot } from "../../operator/api/bus/snapshot.ts";

export interface SubscriberHandlers {
  /** Apply a whole verified snapshot (policies replaced; revocations merged, see view.ts). */
  onSnapshot(snapshot: NamespaceSnapshot): void | Promise<void>;
  /** Apply one verified event (its `prev` is the applied revision); `readAt` = `performance.now()` when its XREAD answered. */
  onEvent(event: EventBody, readAt: number): void | Promise<void>;
  /** The bus was confirmed live: a valid epoch record of the applied epoch, signed at `signedAt`. */
  onConfirmed?(signedAt: number): void;
  /** Diagnostics (refused messages, gaps, Redis errors); must not throw. */
  onIssue?(issue: BusIssue): void;
}

export type BusIssue =
  | { kind: "refused"; code: BusErrorCode; message: string }
  | { kind: "unpublished"; message: string }
  | { kind: "gap"; reason: string }
  | { kind: "redis-error"; error: unknown }
  | { kind: "handler-error"; error: unknown };

export interface SubscriberOptions {
  redis: Redis;
  blocking: Redis;
  namespace: string;
  /** The current verifying keys (read at every verification, so a reloaded key set applies at once). */
  keys: () => VerifyingKeys;
  prefix?: string;
  /** XREAD BLOCK timeout; also the interval of the liveness check. Default 2000 ms. */
  blockMs?: number;
  /** Max entries per XREAD. Default 100. */
  batchSize?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

interface Position {
  epoch: EpochBody;
  revision: number;
  streamId: string;
}

class HandlerFailure extends Error {}

export class BusSubscriber {
  readonly #o: Required<Omit<SubscriberOptions, "prefix">>;
  readonly #keys: { epoch: string } & NamespaceKeys;
  #position: Position | null = null;
  #reload = true;
  #refused = 0;
  #lastRefusal: BusErrorCode | "" = "";

  constructor(options: SubscriberOptions) {
    this.#o = { blockMs: 2000, batchSize: 100, retryMinMs: 100, retryMaxMs: 5000, ...options };
    const keys = busKeys(options.prefix ?? DEFAULT_BUS_PREFIX);
    this.#keys = { epoch: keys.epoch, ...keys.namespace(options.namespace) };
  }

  /** Messages and snapshots refused (unsigned, mis-signed, malformed, replayed, inconsistent). */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Code of the last SNAPSHOT refusal since the last accepted snapshot ("" when none): the bus the sidecar cannot
   * load is damaged or forged, and the heartbeat carries this so the operator rebuilds it. Refused stream entries
   * are only counted: they never change the view.
   */
  get lastRefusal(): string {
    return this.#lastRefusal;
  }

  /** Epoch and revision applied (null before the first accepted snapshot). */
  get position(): Readonly<{ epoch: string; revision: number }> | null {
    return this.#position === null ? null : { epoch: this.#position.epoch.epoch, revision: this.#position.revision };
  }

  async run(handlers: SubscriberHandlers, signal: AbortSignal): Promise<void> {
    const onReconnect = (): void => {
      this.#reload = true;
    };
    this.#o.blocking.on("reconnecting", onReconnect);
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          const waited = this.#reload ? await this.#loadSnapshot(handlers) : await this.#readOnce(handlers, signal);
          failures = 0;
          if (waited === "retry") await pause(this.#o.blockMs, signal);
        } catch (error: unknown) {
          this.#reload = true;
          if (!(error instanceof HandlerFailure)) report(handlers, { kind: "redis-error", error });
          failures++;
          await pause(Math.min(this.#o.retryMaxMs, this.#o.retryMinMs * 2 ** Math.min(failures - 1, 16)), signal);
        }
      }
    } finally {
      this.#o.blocking.off("reconnecting", onReconnect);
    }
  }

  async #loadSnapshot(handlers: SubscriberHandlers): Promise<"ok" | "retry"> {
    const [epochRaw, headRaw, entriesRaw, lastRaw] = execValues(
      await this.#o.redis
        .multi()
        .call("HGETALL", this.#keys.epoch)
        .call("HGETALL", this.#keys.head)
        .call("HGETALL", this.#keys.entries)
        .call("XREVRANGE", this.#keys.events, "+", "-", "COUNT", "1")
        .exec(),
      4,
    );
    const keys = this.#o.keys();
    const epoch = verifyEpoch(epochRaw, keys);
    if (!epoch.ok) return this.#unavailable(handlers, epoch.error.code, epoch.error.message);
    const current = this.#position;
    if (current !== null && epoch.value.epoch !== current.epoch.epoch && epoch.value.createdAt < current.epoch.createdAt) {
      return this.#refuse(handlers, "BUS_REPLAYED", "the bus holds an older epoch than the one applied");
    }
    const snapshot = verifyNamespace(this.#o.namespace, epoch.value, headRaw, entriesRaw, keys);
    if (!snapshot.ok) return this.#refuse(handlers, snapshot.error.code, snapshot.error.message);
    const head = snapshot.value.head;
    if (head === null) {
      report(handlers, { kind: "unpublished", message: `nothing is published for namespace ${this.#o.namespace} yet` });
      return "retry";
    }
    if (current !== null && epoch.value.epoch === current.epoch.epoch && head.revision < current.revision) {
      return this.#refuse(handlers, "BUS_REPLAYED", "the namespace head is older than the one applied");
    }
    try {
      await handlers.onSnapshot(snapshot.value);
    } catch (error: unknown) {
      report(handlers, { kind: "handler-error", error });
      throw new HandlerFailure("onSnapshot failed", { cause: error });
    }
    this.#position = { epoch: epoch.value, revision: head.revision, streamId: parseRange(lastRaw, STREAM_MESSAGE_FIELD)[0]?.id ?? "0-0" };
    this.#reload = false;
    this.#lastRefusal = "";
    handlers.onConfirmed?.(epoch.value.signedAt);
    return "ok";
  }

  async #readOnce(handlers: SubscriberHandlers, signal: AbortSignal): Promise<"ok" | "retry"> {
    const position = this.#position;
    if (position === null) {
      this.#reload = true;
      return "ok";
    }
    const read = this.#o.blocking.call(
      "XREAD",
      "COUNT",
      String(this.#o.batchSize),
      "BLOCK",
      String(this.#o.blockMs),
      "STREAMS",
      this.#keys.events,
      position.streamId,
    );
    const reply = await abortable(read, signal);
    const readAt = performance.now();
    if (reply === ABORTED) return "ok";
    const entries = parseXread(reply, this.#keys.events, STREAM_MESSAGE_FIELD);
    if (entries.length === 0) return this.#confirm(handlers);
    for (const entry of entries) {
      if (!(await this.#apply(entry, handlers, readAt))) break;
    }
    return "ok";
  }

  /** One entry; false when the rest of the batch must wait for a reload. */
  async #apply(entry: StreamEntry, handlers: SubscriberHandlers, readAt: number): Promise<boolean> {
    const position = this.#position;
    if (position === null) return false;
    const opened = openAs(entry.message, this.#o.keys(), "event");
    if (!opened.ok || opened.value.body.namespace !== this.#o.namespace) {
      position.streamId = entry.id;
      if (opened.ok) this.#refuse(handlers, "BUS_INCONSISTENT", "an event of another namespace in this namespace's stream", false);
      else this.#refuse(handlers, opened.error.code, opened.error.message, false);
      return true;
    }
    const event = opened.value.body;
    if (event.epoch !== position.epoch.epoch) return this.#gap(handlers, "an event of another epoch");
    if (event.prev !== position.revision) {
      if (event.revision <= position.revision) {
        position.streamId = entry.id;
        this.#refuse(handlers, "BUS_REPLAYED", `event revision ${event.revision} is not after ${position.revision}`, false);
        return true;
      }
      return this.#gap(handlers, `event follows revision ${event.prev}, applied ${position.revision}`);
    }
    try {
      await handlers.onEvent(event, readAt);
    } catch (error: unknown) {
      report(handlers, { kind: "handler-error", error });
      return this.#gap(handlers, "an event handler failed");
    }
    position.revision = event.revision;
    position.streamId = entry.id;
    return true;
  }

  /** After an idle read: is the bus still the one applied, and live? */
  async #confirm(handlers: SubscriberHandlers): Promise<"ok" | "retry"> {
    const position = this.#position;
    if (position === null) return "ok";
    const [epochRaw, revisionRaw] = execValues(
      await this.#o.redis.multi().call("HGETALL", this.#keys.epoch).call("HGET", this.#keys.head, "revision").exec(),
      2,
    );
    const epoch = verifyEpoch(epochRaw, this.#o.keys());
    if (!epoch.ok) return this.#unavailable(handlers, epoch.error.code, epoch.error.message);
    if (epoch.value.epoch !== position.epoch.epoch) {
      this.#gap(handlers, "the bus was rebuilt (new epoch)");
      return "ok";
    }
    const revision = parseCounter(revisionRaw);
    if (revision === null || revision < position.revision) return this.#refuse(handlers, "BUS_INCONSISTENT", "the namespace head went back or is missing");
    if (revision > position.revision) {
      this.#gap(handlers, "the namespace moved past the stream (missed or trimmed events)");
      return "ok";
    }
    if (epoch.value.signedAt >= position.epoch.signedAt) position.epoch = epoch.value;
    handlers.onConfirmed?.(position.epoch.signedAt);
    return "ok";
  }

  #gap(handlers: SubscriberHandlers, reason: string): false {
    this.#reload = true;
    report(handlers, { kind: "gap", reason });
    return false;
  }

  /** No usable epoch record (Redis lost its data, or it is being rebuilt): wait, keep the view, do not count. */
  #unavailable(handlers: SubscriberHandlers, code: BusErrorCode, message: string): "retry" {
    if (code !== "BUS_NO_EPOCH") return this.#refuse(handlers, code, message);
    report(handlers, { kind: "unpublished", message });
    return "retry";
  }

  #refuse(handlers: SubscriberHandlers, code: BusErrorCode, message: string, snapshot = true): "retry" {
    this.#refused++;
    if (snapshot) this.#lastRefusal = code;
    report(handlers, { kind: "refused", code, message });
    return "retry";
  }
}

function report(handlers: SubscriberHandlers, issue: BusIssue): void {
  try {
    handlers.onIssue?.(issue);
  } catch {
    // Diagnostics must never break the loop.
  }
}

const ABORTED = Symbol("aborted");

async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  promise.catch(() => undefined);
  if (signal.aborted) return ABORTED;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => {
      resolve(ABORTED);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);
}
