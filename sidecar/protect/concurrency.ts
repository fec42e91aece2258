/**
 * Concurrent-session limits: per policy and identity, a Redis ZSET of session IDs scored by start time
 * (`P concurrent:<ns>:<policy>:<identity hash>`, expiring with the longest session). Checked once per session and
 * sidecar (when the session first reaches a workload of the policy here), never per request.
 *
 * `admit` adds the session, keeps only the live members (their sealed records say so: ended, idle, expired or gone
 * ones are removed) and, over the limit, says which sessions must end: RefuseNew → this one; EndOldest → the oldest
 * live ones until the limit holds. Two first requests racing may both see the limit exceeded (both refused): safe.
 */
import type { Redis } from "ioredis";
import type { BusKeys } from "../../operator/api/bus/keys.ts";
import type { ExceedAction } from "../../operator/api/v1alpha1/index.ts";

export interface LimitCheck {
  namespace: string;
  policyName: string;
  maxSessions: number;
  onExceed: ExceedAction;
}

export interface Admission {
  /** Live sessions counted, this one included. */
  live: number;
  /** Sessions that must end to respect the limit (empty when within it). */
  toEnd: string[];
}

export interface LiveSessions {
  liveSessions(ids: readonly string[], now: number): Promise<Map<string, number>>;
}

/** One new session's admission under a policy's concurrent-session limit. */
export interface AdmitRequest {
  limit: LimitCheck;
  /** The user (issuer and subject) the limit counts sessions of. */
  identity: string;
  session: { id: string; startedAt: number };
  now: number;
  /** How long the set of a user's sessions is kept without a new one (the absolute session timeout). */
  ttlMs: number;
  /** Enforce: the sessions to end leave the set now (Audit only reports them). */
  enforce: boolean;
}

export class ConcurrencyLimiter {
  readonly #redis: Redis;
  readonly #keys: BusKeys;
  readonly #sessions: LiveSessions;

  constructor(redis: Redis, keys: BusKeys, sessions: LiveSessions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#sessions = sessions;
  }

  async admit({ limit, identity, session, now, ttlMs, enforce }: AdmitRequest): Promise<Admission> {
    const key = this.#keys.concurrentSessions(limit.namespace, limit.policyName, identity);
    const replies = await this.#redis.multi().zadd(key, "NX", String(session.startedAt), session.id).pexpire(key, String(ttlMs)).zrange(key, "0", "-1").exec();
    const members = (replies?.[2]?.[1] as string[] | undefined) ?? [];
    const others = members.filter((m) => m !== session.id).slice(0, 1000);
    const live = await this.#sessions.liveSessions(others, now);
    const dead = others.filter((m) => !live.has(m));
    if (dead.length > 0) await this.#redis.zrem(key, ...dead);
    live.set(session.id, session.startedAt);
    const ordered = [...live].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
    if (ordered.length <= limit.maxSessions) return { live: ordered.length, toEnd: [] };
    const toEnd = limit.onExceed === "RefuseNew" ? [session.id] : ordered.slice(0, ordered.length - limit.maxSessions);
    if (enforce) await this.#redis.zrem(key, ...toEnd);
    return { live: ordered.length, toEnd };
  }
}
