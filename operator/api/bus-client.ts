import type { Redis } from "ioredis";
import type { Ack, BusEvent, Heartbeat, Revocation, StoredPolicy } from "./bus.ts";
import { decodeEvent, encodeAck, encodeHeartbeat } from "./bus-codec.ts";
import { busKeys, DEFAULT_BUS_PREFIX, objectField, STREAM_MESSAGE_FIELD, type BusKeys } from "./bus-keys.ts";
import {
  compareStreamIds,
  execValues,
  parseCounter,
  parseXinfoStream,
  parseXread,
  type StreamEntry,
} from "./bus-replies.ts";
import { readBusState } from "./bus-snapshot.ts";

/**
 * The SIDECAR side of the policy bus. The sidecar creates the ioredis connections and passes them
 * in (this module never opens one): `redis` for ordinary commands and `blocking`, a dedicated
 * connection for XREAD BLOCK (ideally with ioredis `blockingTimeout` set, so a half-open socket
 * cannot hang a read forever).
 *
 * - `loadSnapshot()`: every policy and unexpired revocation plus the revision and stream position,
 *   in one round trip (MULTI/EXEC); invalid entries are skipped and counted.
 * - `tail(handlers, signal)`: loads a snapshot (or resumes a previous position when no gap is
 *   found), then XREADs the change stream from the last seen ID. Each event must carry exactly the
 *   next revision; anything else (trimmed stream, Redis restarted empty, revision reset), a stream
 *   position deleted from under it (XINFO STREAM max-deleted-entry-id), a reconnect of the blocking
 *   connection, a Redis error or a handler error all lead to a fresh snapshot, then tailing resumes.
 *   Invalid stream entries are skipped and counted. The loop never throws; it resolves when `signal`
 *   aborts.
 * - `heartbeat(hb)` / `ack(ack)`: HSET into P sidecars / P acks:<id> (+ EXPIRE); these reject with a
 *   BusClientError (code BUS_UNAVAILABLE) when Redis fails.
 * - `lastContactAt` (epoch ms of the last successful Redis reply on the read path) drives the
 *   sidecar's staleness bound; the counters feed its metrics.
 */

export interface BusSnapshot {
  revision: number;
  /** Stream position the snapshot corresponds to (`0-0` when the stream is empty). */
  streamId: string;
  policies: StoredPolicy[];
  /** Revocations still in force at read time. */
  revocations: Revocation[];
  /** Entries skipped because they did not validate. */
  invalid: number;
}

export interface BusTailHandlers {
  /** Replace the whole local view with this snapshot. */
  onSnapshot(snapshot: BusSnapshot): void | Promise<void>;
  /** Apply one change (revision = previous + 1). Terminations must be applied idempotently (by id). */
  onEvent(event: BusEvent, streamId: string): void | Promise<void>;
  /** Diagnostics only (connection errors, gaps, invalid entries); must not throw. */
  onIssue?(issue: BusIssue): void;
}

export type BusIssue =
  | { kind: "invalid-message"; streamId: string; code: string; message: string }
  | { kind: "gap"; reason: string }
  | { kind: "redis-error"; error: unknown }
  | { kind: "handler-error"; error: unknown };

export interface BusClientOptions {
  redis: Redis;
  blocking: Redis;
  prefix?: string;
  /** XREAD BLOCK timeout; also the interval of the idle gap check. Default 2000 ms. */
  blockMs?: number;
  /** Max entries per XREAD. Default 100. */
  batchSize?: number;
  /** TTL of P acks:<id>. Default 24 h. */
  ackTtlSeconds?: number;
  /** Backoff after a Redis error: doubles from min to max. Default 100 ms … 5 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  now?: () => number;
}

export class BusClientError extends Error {
  readonly code = "BUS_UNAVAILABLE";

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "BusClientError";
  }
}

interface Position {
  revision: number;
  streamId: string;
}

type EntryOutcome = "applied" | "skipped" | "gap";

const ABORTED = Symbol("aborted");

/** A handler failed: back off and reload, but do not count it as a Redis error. */
class HandlerFailure extends Error {}

export class BusClient {
  readonly keys: BusKeys;
  #redis: Redis;
  #blocking: Redis;
  #blockMs: number;
  #batchSize: number;
  #ackTtlSeconds: number;
  #retryMinMs: number;
  #retryMaxMs: number;
  #now: () => number;
  #position: Position | null = null;
  #reloadRequested = false;
  #invalidMessages = 0;
  #snapshotReloads = 0;
  #handlerErrors = 0;
  #redisErrors = 0;
  #lastContactAt: number | null = null;
  #tailing = false;

  constructor(options: BusClientOptions) {
    this.keys = busKeys(options.prefix ?? DEFAULT_BUS_PREFIX);
    this.#redis = options.redis;
    this.#blocking = options.blocking;
    this.#blockMs = options.blockMs ?? 2000;
    this.#batchSize = options.batchSize ?? 100;
    this.#ackTtlSeconds = options.ackTtlSeconds ?? 86_400;
    this.#retryMinMs = options.retryMinMs ?? 100;
    this.#retryMaxMs = options.retryMaxMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  /** Stream entries and snapshot entries that failed validation. */
  get invalidMessages(): number {
    return this.#invalidMessages;
  }

  /** Snapshots loaded by `tail` (the first one included). */
  get snapshotReloads(): number {
    return this.#snapshotReloads;
  }

  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  get redisErrors(): number {
    return this.#redisErrors;
  }

  /** Epoch ms of the last successful read from Redis (null before the first). */
  get lastContactAt(): number | null {
    return this.#lastContactAt;
  }

  /** Revision and stream ID of the last applied change (null before the first snapshot). */
  get position(): Readonly<Position> | null {
    return this.#position;
  }

  async loadSnapshot(): Promise<BusSnapshot> {
    const state = await readBusState(this.#redis, this.keys);
    this.#lastContactAt = this.#now();
    const now = this.#now();
    let invalid = state.revision === null ? 1 : 0;
    const policies: StoredPolicy[] = [];
    for (const decoded of state.policies.values()) {
      if (decoded.ok) policies.push(decoded.value);
      else invalid++;
    }
    const revocations: Revocation[] = [];
    for (const decoded of state.revocations.values()) {
      if (!decoded.ok) invalid++;
      else if (decoded.value.expiresAt > now) revocations.push(decoded.value);
    }
    this.#invalidMessages += invalid;
    return { revision: state.revision ?? 0, streamId: state.streamId, policies, revocations, invalid };
  }

  async heartbeat(hb: Heartbeat): Promise<void> {
    try {
      await this.#redis.hset(this.keys.sidecars, objectField(hb.namespace, hb.pod), encodeHeartbeat(hb));
    } catch (error: unknown) {
      throw new BusClientError("heartbeat could not be written to the bus", error);
    }
  }

  async ack(ack: Ack): Promise<void> {
    const key = this.keys.acks(ack.terminationId);
    try {
      const results = await this.#redis
        .multi()
        .hset(key, objectField(ack.namespace, ack.pod), encodeAck(ack))
        .expire(key, this.#ackTtlSeconds)
        .exec();
      execValues(results, 2);
    } catch (error: unknown) {
      throw new BusClientError("acknowledgement could not be written to the bus", error);
    }
  }

  /** Follows the bus until `signal` aborts. Never rejects. One tail at a time: a second call returns at once. */
  async tail(handlers: BusTailHandlers, signal: AbortSignal): Promise<void> {
    if (this.#tailing) return;
    this.#tailing = true;
    const onReconnect = (): void => {
      this.#reloadRequested = true;
    };
    this.#blocking.on("reconnecting", onReconnect);
    let failures = 0;
    let resumeChecked = false;
    try {
      while (!signal.aborted) {
        try {
          if (!resumeChecked && this.#position !== null && (await this.#findGap()) !== null) this.#reloadRequested = true;
          resumeChecked = true;
          if (this.#position === null || this.#reloadRequested) await this.#reload(handlers);
          if ((await this.#readOnce(handlers, signal)) === ABORTED) break;
          failures = 0;
        } catch (error: unknown) {
          this.#reloadRequested = true;
          if (!(error instanceof HandlerFailure)) {
            this.#redisErrors++;
            report(handlers, { kind: "redis-error", error });
          }
          failures++;
          await sleep(Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.min(failures - 1, 16)), signal);
        }
      }
    } finally {
      this.#blocking.off("reconnecting", onReconnect);
      this.#tailing = false;
    }
  }

  async #reload(handlers: BusTailHandlers): Promise<void> {
    const snapshot = await this.loadSnapshot();
    this.#snapshotReloads++;
    this.#reloadRequested = false;
    this.#position = { revision: snapshot.revision, streamId: snapshot.streamId };
    try {
      await handlers.onSnapshot(snapshot);
    } catch (error: unknown) {
      this.#handlerErrors++;
      report(handlers, { kind: "handler-error", error });
      throw new HandlerFailure("onSnapshot failed", { cause: error });
    }
  }

  async #readOnce(handlers: BusTailHandlers, signal: AbortSignal): Promise<typeof ABORTED | undefined> {
    const position = this.#position;
    if (position === null) return undefined;
    const read = this.#blocking.call(
      "XREAD",
      "COUNT",
      String(this.#batchSize),
      "BLOCK",
      String(this.#blockMs),
      "STREAMS",
      this.keys.events,
      position.streamId,
    );
    const reply = await abortable(read, signal);
    if (reply === ABORTED) return ABORTED;
    const entries = parseXread(reply, this.keys.events, STREAM_MESSAGE_FIELD);
    if (entries.length === 0) {
      // Idle (or a client-side blocking timeout): confirm contact and position on the command connection.
      const gap = await this.#findGap();
      this.#lastContactAt = this.#now();
      if (gap !== null) this.#requestReload(handlers, gap);
      return undefined;
    }
    this.#lastContactAt = this.#now();
    for (const entry of entries) {
      if ((await this.#apply(entry, handlers)) === "gap") break;
    }
    return undefined;
  }

  async #apply(entry: StreamEntry, handlers: BusTailHandlers): Promise<EntryOutcome> {
    const position = this.#position;
    if (position === null) return "gap";
    const decoded = decodeEvent(entry.message);
    if (!decoded.ok) {
      this.#invalidMessages++;
      this.#position = { revision: position.revision, streamId: entry.id };
      report(handlers, { kind: "invalid-message", streamId: entry.id, ...decoded.error });
      return "skipped";
    }
    if (decoded.value.revision !== position.revision + 1) {
      this.#requestReload(handlers, `event revision ${decoded.value.revision} after ${position.revision}`);
      return "gap";
    }
    try {
      await handlers.onEvent(decoded.value, entry.id);
    } catch (error: unknown) {
      this.#handlerErrors++;
      report(handlers, { kind: "handler-error", error });
      this.#requestReload(handlers, "an event handler failed");
      return "gap";
    }
    this.#position = { revision: decoded.value.revision, streamId: entry.id };
    return "applied";
  }

  #requestReload(handlers: BusTailHandlers, reason: string): void {
    this.#reloadRequested = true;
    report(handlers, { kind: "gap", reason });
  }

  /**
   * One round trip (GET revision + XINFO STREAM). Returns why the current position can no longer be
   * followed, or null when every change after it is still in the stream.
   */
  async #findGap(): Promise<string | null> {
    const position = this.#position;
    if (position === null) return "no position";
    const results = await this.#redis.multi().call("GET", this.keys.revision).call("XINFO", "STREAM", this.keys.events).exec();
    if (results?.length !== 2) throw new Error("gap check transaction returned an unexpected reply");
    const [[revisionError, revisionReply], [infoError, infoReply]] = results as [[Error | null, unknown], [Error | null, unknown]];
    if (revisionError !== null) throw revisionError;
    const revision = revisionReply === null ? 0 : parseCounter(revisionReply);
    if (revision === null) return "the revision key holds garbage";
    if (revision < position.revision) return `revision went back from ${position.revision} to ${revision}`;
    if (revision === position.revision) return null;
    if (infoError !== null) return "the stream is gone but the revision moved";
    const info = parseXinfoStream(infoReply);
    if (info.maxDeletedEntryId !== null && compareStreamIds(info.maxDeletedEntryId, position.streamId) > 0) {
      return "entries after the last seen ID were trimmed or deleted";
    }
    if (info.firstEntryId === null || info.lastGeneratedId === null) return "the stream is empty but the revision moved";
    if (compareStreamIds(info.lastGeneratedId, position.streamId) <= 0) return "the revision moved without a stream entry";
    return null;
  }
}

function report(handlers: BusTailHandlers, issue: BusIssue): void {
  try {
    handlers.onIssue?.(issue);
  } catch {
    // Diagnostics must never break the loop.
  }
}

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

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await abortable(
    new Promise<void>((resolve) => {
      setTimeout(resolve, ms).unref();
    }),
    signal,
  );
}
