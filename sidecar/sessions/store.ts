/**
 * The session store: sessions live in Redis, encrypted (see crypto.ts), and in a bounded local cache.
 *
 * Contract:
 * - `resolve(principal, timeouts, sighting)` returns the session of the token's (iss, sid|jti). The first sight
 *   on any sidecar creates it: a CSPRNG ID is proposed with `SET index NX` so concurrent first requests on
 *   different sidecars converge on one ID, and the sealed record is written with `SET record NX` in the same atomic
 *   step (one Lua script, one round trip: create-script.ts). After that the request path is served from the local
 *   cache and does not wait on Redis.
 * - Activity is written behind: dirty sessions are flushed at most once per `flushIntervalMs`, merged with what
 *   other sidecars wrote (latest activity wins, workloads are unioned, an end is final). A dirty session is never
 *   dropped from memory before it is written.
 * - A locally idle session is re-read from Redis before it is refused (another sidecar may have seen activity).
 * - `endCovered(revocation, now)` ends the cached sessions a revocation covers (the one rule of
 *   operator/api/bus/coverage.ts: a session started after the termination is never ended by it).
 * - Redis TTLs are set to the absolute expiry; expiry is also enforced from the timestamps inside the record.
 * - Redis unreachable: SESSION_STORE_UNAVAILABLE (503, retryable), never a 500.
 * - Lifecycle is told to `events` (the audit, sidecar/audit/): `started` when a session is first loaded on this
 *   sidecar (first seen on this workload), `ended` once when it ends here (a refused idle or expired session, a
 *   revocation, or `expire(now, live)` — the sweep's pass over cached sessions past their idle or absolute
 *   timeout without a live flow; an idle one is re-read from Redis first, another sidecar may have seen it active).
 * Redis keys: `<prefix>session-index:<sessionKeyOf(principal)>` (a hash: key names never reveal identities) → ID,
 * `<prefix>session:<ID>` → sealed record.
 */
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { covers } from "../../operator/api/bus/coverage.ts";
import { busKeys, type BusKeys } from "../../operator/api/bus/keys.ts";
import { terminationOfRevocation } from "../../operator/api/audit/events.ts";
import type { Revocation } from "../../operator/api/bus/messages.ts";
import type { Principal } from "../auth/types.ts";
import { isSidecarErrorCode, SidecarError } from "../errors.ts";
import { end, newRecord, parseSessionRecord, standing, touch, type EndReason, type SessionRecord, type Sighting, type Timeouts } from "./record.ts";
import { createOutcome, defineSessionScripts } from "./create-script.ts";
import { cachedSessionKeyOf } from "./session-key.ts";

export interface SessionSealer {
  seal(sessionId: string, plaintext: object): string;
  open(sessionId: string, sealed: string): unknown;
}

export interface SessionEvents {
  started(record: SessionRecord, clientIp: string): void;
  ended(record: SessionRecord, detail?: string): void;
}

export interface SessionStoreOptions {
  redis: Redis;
  prefix: string;
  sealer: SessionSealer;
  newId: () => string;
  now?: () => number;
  flushIntervalMs?: number;
  maxCachedSessions?: number;
  onFlushError?: (err: unknown) => void;
  events?: SessionEvents;
}

/** Seconds a client is told to wait when the store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 2;

export class SessionStore {
  readonly #o: Required<Omit<SessionStoreOptions, "onFlushError" | "events">> & Pick<SessionStoreOptions, "onFlushError" | "events">;
  /** session key → record (clean or dirty). */
  readonly #cache: LRUCache<string, SessionRecord>;
  /** session key → record still to be written (kept even if the cache evicts it). */
  readonly #dirty = new Map<string, SessionRecord>();
  readonly #keys: BusKeys;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SessionStoreOptions) {
    this.#o = { now: Date.now, flushIntervalMs: 1000, maxCachedSessions: 100_000, ...options };
    this.#cache = new LRUCache({ max: this.#o.maxCachedSessions });
    defineSessionScripts(options.redis);
    this.#keys = busKeys(options.prefix);
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.flush().catch((err: unknown) => this.#o.onFlushError?.(err));
    }, this.#o.flushIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** The session for this principal, created on first sight; throws SESSION_* errors when it may not be used. */
  async resolve(principal: Principal, timeouts: Timeouts, seen: Sighting): Promise<SessionRecord> {
    const key = cachedSessionKeyOf(principal);
    let record = this.#dirty.get(key) ?? this.#cache.get(key) ?? (await this.#guard(() => this.#load(key, principal, timeouts, seen)));
    let verdict = standing(record, seen.now);
    if (!verdict.ok && verdict.reason === "idle" && record.endReason === undefined) {
      record = (await this.#guard(() => this.#read(record.id))) ?? record; // another sidecar may have seen activity since
      verdict = standing(record, seen.now);
    }
    if (!verdict.ok) {
      const ended = end(record, verdict.reason, seen.now);
      this.#remember(key, ended);
      if (ended !== record) this.#o.events?.ended(ended);
      throw refusal(verdict.reason, record.endCode);
    }
    const touched = touch(record, seen);
    if (touched !== record) this.#remember(key, touched);
    return touched;
  }

  /** Ends every cached session the revocation covers at `now` (persisted on the next flush); returns their IDs. */
  endCovered(revocation: Revocation, now: number): string[] {
    const ended: string[] = [];
    const consider = (key: string, record: SessionRecord): void => {
      if (record.endedAt !== undefined) return;
      if (!covers(revocation, { sessionId: record.id, sessionKey: record.key ?? key, principal: record }, record.startedAt, now)) return;
      const closed = end(record, "terminated", now);
      this.#remember(key, closed);
      this.#o.events?.ended(closed, `SessionTermination ${terminationOfRevocation(revocation.id)}`);
      ended.push(record.id);
    };
    for (const [key, record] of [...this.#dirty]) consider(key, record);
    for (const [key, record] of [...this.#cache.entries()]) if (!this.#dirty.has(key)) consider(key, record);
    return ended;
  }

  /**
   * Ends the session of this session key (cached) with a protection's code, at `now`; persisted on the next flush.
   * Returns whether a live session was ended.
   */
  endWithCode(key: string, code: string, now: number): boolean {
    const record = this.#dirty.get(key) ?? this.#cache.get(key);
    if (record === undefined || record.endedAt !== undefined) return false;
    const ended = end(record, "protection", now, code);
    this.#remember(key, ended);
    this.#o.events?.ended(ended);
    return true;
  }

  /** Ends the cached sessions with these IDs with a protection's code (other sidecars: the operator's termination). */
  endIdsWithCode(ids: ReadonlySet<string>, code: string, now: number): void {
    for (const [key, record] of [...this.#cache.entries()]) {
      const current = this.#dirty.get(key) ?? record;
      if (!ids.has(current.id) || current.endedAt !== undefined) continue;
      const ended = end(current, "protection", now, code);
      this.#remember(key, ended);
      this.#o.events?.ended(ended);
    }
  }

  /**
   * Which of these sessions are live at `now` (from their sealed records in Redis; missing, unreadable, ended,
   * idle or expired ones are not), with their start times. Redis failures propagate.
   */
  async liveSessions(ids: readonly string[], now: number): Promise<Map<string, number>> {
    const live = new Map<string, number>();
    const records = await Promise.all(ids.map((id) => this.#read(id)));
    for (const record of records) if (record !== undefined && standing(record, now).ok) live.set(record.id, record.startedAt);
    return live;
  }

  /** The cached session of a principal (no Redis, no LRU bump), for the audit's activity reports. */
  sessionOf(principal: Principal): SessionRecord | undefined {
    const key = cachedSessionKeyOf(principal);
    return this.#dirty.get(key) ?? this.#cache.peek(key);
  }

  /**
   * Ends cached sessions past their idle or absolute timeout that have no live flow (`live` = ids with one); an idle
   * one is re-read from Redis first (at most `maxReads` per call). Returns how many ended. Redis failures skip the
   * session until the next call; never throws.
   */
  async expire(now: number, live: ReadonlySet<string>, maxReads = 64): Promise<number> {
    let reads = 0;
    let ended = 0;
    for (const [key, cached] of [...this.#cache.entries()]) {
      const record = this.#dirty.get(key) ?? cached;
      if (record.endedAt !== undefined || live.has(record.id)) continue;
      let verdict = standing(record, now);
      if (verdict.ok) continue;
      let current = record;
      if (verdict.reason === "idle") {
        if (reads >= maxReads) continue;
        reads += 1;
        const stored = await this.#read(record.id).catch(() => null);
        if (stored === null) continue;
        if (stored !== undefined) current = merge(stored, this.#dirty.get(key) ?? record);
        if (current.endedAt !== undefined) {
          this.#cache.set(key, current); // ended elsewhere (and reported there)
          continue;
        }
        verdict = standing(current, now);
        if (verdict.ok) {
          this.#cache.set(key, current);
          continue;
        }
      }
      const closed = end(current, verdict.reason, now);
      this.#remember(key, closed);
      this.#o.events?.ended(closed);
      ended += 1;
    }
    return ended;
  }

  async flush(): Promise<void> {
    const pending = [...this.#dirty];
    for (const [key, local] of pending) {
      const stored = await this.#read(local.id);
      const merged = stored ? merge(stored, local) : local;
      const ttl = merged.absoluteExpiresAt - this.#o.now();
      if (ttl > 0) await this.#o.redis.set(this.#recordKey(merged.id), this.#o.sealer.seal(merged.id, merged), "PX", ttl);
      if (this.#dirty.get(key) === local) this.#dirty.delete(key);
    }
  }

  async #load(key: string, principal: Principal, timeouts: Timeouts, seen: Sighting): Promise<SessionRecord> {
    const { redis } = this.#o;
    const proposed = this.#o.newId();
    const ttl = String(timeouts.absoluteTimeoutMs);
    const mine = newRecord(proposed, key, principal, timeouts, seen);
    const sealed = this.#o.sealer.seal(proposed, mine);
    // One round trip: the index and the record, atomically (create-script.ts).
    const outcome = createOutcome(await redis.vigilCreateSession(this.#keys.sessionIndex(key), this.#recordKey(proposed), proposed, sealed, ttl));
    let record: SessionRecord | undefined;
    if (outcome.kind === "created") record = mine;
    else if (outcome.kind === "record-exists") record = await this.#read(outcome.id);
    else record = await this.#adopt(outcome.id, key, principal, timeouts, seen);
    if (!record) throw new SidecarError("SESSION_RECORD_INVALID", "the stored session record could not be read");
    this.#cache.set(key, record); // just written (or just read): nothing to write behind
    if (record.endedAt === undefined) this.#o.events?.started(record, seen.clientIp);
    return record;
  }

  /** Another sidecar's session ID won the index: its record (written now from this sighting if it has none yet). */
  async #adopt(id: string | null, key: string, principal: Principal, timeouts: Timeouts, seen: Sighting): Promise<SessionRecord | undefined> {
    if (id === null) throw new SidecarError("SESSION_STORE_UNAVAILABLE", "The session store changed while it was read; try again.", { retryAfterSeconds: 1 });
    const fresh = newRecord(id, key, principal, timeouts, seen);
    const created = await this.#o.redis.set(this.#recordKey(id), this.#o.sealer.seal(id, fresh), "PX", timeouts.absoluteTimeoutMs, "NX");
    return created === "OK" ? fresh : await this.#read(id);
  }

  async #read(id: string): Promise<SessionRecord | undefined> {
    const sealed = await this.#o.redis.get(this.#recordKey(id));
    if (sealed === null) return undefined;
    try {
      const value = parseSessionRecord(this.#o.sealer.open(id, sealed));
      return value?.id === id ? value : undefined;
    } catch {
      return undefined;
    }
  }

  #remember(key: string, record: SessionRecord): void {
    this.#cache.set(key, record);
    this.#dirty.set(key, record);
  }

  #recordKey(id: string): string {
    return this.#keys.sessionRecord(id);
  }

  /** Redis failures on the request path become a retryable 503; coded refusals pass through. */
  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error: unknown) {
      if (error instanceof SidecarError) throw error;
      throw new SidecarError("SESSION_STORE_UNAVAILABLE", "The session store is unreachable; try again shortly.", {
        cause: error,
        retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
      });
    }
  }
}

function merge(stored: SessionRecord, local: SessionRecord): SessionRecord {
  const ended = stored.endedAt !== undefined ? stored : local;
  return {
    ...local,
    lastActivityAt: Math.max(stored.lastActivityAt, local.lastActivityAt),
    lastIp: stored.lastActivityAt > local.lastActivityAt ? stored.lastIp : local.lastIp,
    workloads: [...new Set([...stored.workloads, ...local.workloads])].slice(0, 32),
    ...(ended.endedAt === undefined ? {} : { endedAt: ended.endedAt }),
    ...(ended.endReason === undefined ? {} : { endReason: ended.endReason }),
    ...(ended.endCode === undefined ? {} : { endCode: ended.endCode }),
  };
}

function refusal(reason: EndReason, code: string | undefined): SidecarError {
  switch (reason) {
    case "protection":
      return isSidecarErrorCode(code)
        ? new SidecarError(code, "this session was ended by a session protection; sign in again")
        : new SidecarError("SESSION_REVOKED", "this session was terminated; sign in again");
    case "terminated":
      return new SidecarError("SESSION_REVOKED", "this session was terminated; sign in again");
    case "idle":
      return new SidecarError("SESSION_IDLE", "this session ended after a period of inactivity; sign in again");
    case "absolute":
      return new SidecarError("SESSION_EXPIRED", "this session reached its maximum lifetime; sign in again");
  }
}
