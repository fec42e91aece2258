/**
 * The session store: sessions live in Redis, encrypted (see crypto.ts), and in a bounded local cache.
 *
 * Contract:
 * - `resolve(principal, timeouts, sighting)` returns the session of the token's (iss, sid|jti). The first sight
 *   on any sidecar creates it: a CSPRNG ID is proposed with `SET index NX` so concurrent first requests on
 *   different sidecars converge on one ID, then the sealed record is written with `SET record NX`. After that the
 *   request path is served from the local cache and does not wait on Redis.
 * - Activity is written behind: dirty sessions are flushed at most once per `flushIntervalMs`, merged with what
 *   other sidecars wrote (latest activity wins, workloads are unioned, an end is final).
 * - A locally idle session is re-read from Redis before it is refused (another sidecar may have seen activity).
 * - Redis TTLs are set to the absolute expiry; expiry is also enforced from the timestamps inside the record.
 * Redis keys: `<prefix>session-index:<sessionKeyOf(principal)>` (a hash: key names never reveal identities) → ID, `<prefix>session:<ID>` → sealed record.
 */
import type { Redis } from "ioredis";
import { sessionKeyOf } from "../auth/jwt.ts";
import type { Principal } from "../auth/types.ts";
import { SidecarError } from "../errors.ts";
import { end, isSessionRecord, newRecord, standing, touch, type EndReason, type SessionRecord, type Sighting, type Timeouts } from "./record.ts";

export interface SessionSealer {
  seal(sessionId: string, plaintext: object): string;
  open(sessionId: string, sealed: string): unknown;
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
}

export class SessionStore {
  readonly #o: Required<Omit<SessionStoreOptions, "onFlushError">> & Pick<SessionStoreOptions, "onFlushError">;
  /** session key (iss|claim|value) → record */
  readonly #byKey = new Map<string, SessionRecord>();
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SessionStoreOptions) {
    this.#o = { now: Date.now, flushIntervalMs: 1000, maxCachedSessions: 100_000, ...options };
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
    let record = this.#byKey.get(key) ?? (await this.#load(key, principal, timeouts, seen));
    let verdict = standing(record, seen.now);
    if (!verdict.ok && verdict.reason === "idle" && record.endReason === undefined) {
      record = (await this.#read(record.id)) ?? record; // another sidecar may have seen activity since
      verdict = standing(record, seen.now);
    }
    if (!verdict.ok) {
      this.#remember(key, end(record, verdict.reason, seen.now));
      throw refusal(verdict.reason);
    }
    const touched = touch(record, seen);
    if (touched !== record) this.#remember(key, touched);
    return touched;
  }

  /** Marks every cached session the predicate selects as ended (persisted on the next flush); returns their IDs. */
  endWhere(pred: (r: SessionRecord) => boolean, reason: EndReason): string[] {
    const ended: string[] = [];
    for (const [key, record] of this.#byKey) {
      if (record.endedAt === undefined && pred(record)) {
        this.#remember(key, end(record, reason, this.#o.now()));
        ended.push(record.id);
      }
    }
    return ended;
  }

  async flush(): Promise<void> {
    const keys = [...this.#dirty];
    this.#dirty.clear();
    for (const key of keys) {
      const local = this.#byKey.get(key);
      if (!local) continue;
      const stored = await this.#read(local.id);
      const merged = stored ? merge(stored, local) : local;
      const ttl = merged.absoluteExpiresAt - this.#o.now();
      if (ttl > 0) await this.#o.redis.set(this.#recordKey(merged.id), this.#o.sealer.seal(merged.id, merged), "PX", ttl);
    }
  }

  async #load(key: string, principal: Principal, timeouts: Timeouts, seen: Sighting): Promise<SessionRecord> {
    const { redis } = this.#o;
    const indexKey = `${this.#o.prefix}session-index:${key}`;
    const proposed = this.#o.newId();
    const won = await redis.set(indexKey, proposed, "PX", timeouts.absoluteTimeoutMs, "NX");
    const id = won === "OK" ? proposed : await redis.get(indexKey);
    if (id === null) throw new SidecarError("INTERNAL", "session index vanished while it was being read");
    const fresh = newRecord(id, principal, timeouts, seen);
    const created = await redis.set(this.#recordKey(id), this.#o.sealer.seal(id, fresh), "PX", timeouts.absoluteTimeoutMs, "NX");
    const record = created === "OK" ? fresh : await this.#read(id);
    if (!record) throw new SidecarError("SESSION_RECORD_INVALID", "the stored session record could not be read");
    this.#remember(key, record, false); // just written (or just read): nothing to write behind
    return record;
  }

  async #read(id: string): Promise<SessionRecord | undefined> {
    const sealed = await this.#o.redis.get(this.#recordKey(id));
    if (sealed === null) return undefined;
    try {
      const value = this.#o.sealer.open(id, sealed);
      return isSessionRecord(value) && value.id === id ? value : undefined;
    } catch {
      return undefined;
    }
  }

  #remember(key: string, record: SessionRecord, dirty = true): void {
    this.#byKey.delete(key);
    this.#byKey.set(key, record);
    if (dirty) this.#dirty.add(key);
    if (this.#byKey.size > this.#o.maxCachedSessions) {
      const oldest = this.#byKey.keys().next().value;
      if (oldest !== undefined && !this.#dirty.has(oldest)) this.#byKey.delete(oldest);
    }
  }

  #recordKey(id: string): string {
    return `${this.#o.prefix}session:${id}`;
  }
}

/**
 * `sessionKeyOf` (a SHA-256) once per principal object: a warm token's principal is the same cached object on
 * every request, so the request path does no hashing.
 */
const sessionKeys = new WeakMap<Principal, string>();

function cachedSessionKeyOf(principal: Principal): string {
  let key = sessionKeys.get(principal);
  if (key === undefined) {
    key = sessionKeyOf(principal);
    sessionKeys.set(principal, key);
  }
  return key;
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
  };
}

function refusal(reason: EndReason): SidecarError {
  switch (reason) {
    case "terminated":
      return new SidecarError("SESSION_REVOKED", "this session was terminated; sign in again");
    case "idle":
      return new SidecarError("SESSION_IDLE", "this session ended after a period of inactivity; sign in again");
    case "absolute":
      return new SidecarError("SESSION_EXPIRED", "this session reached its maximum lifetime; sign in again");
  }
}
