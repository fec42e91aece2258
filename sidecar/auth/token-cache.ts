/**
 * Verified-token cache: full token string → Principal, so a repeated token skips signature
 * verification (and parsing: only tokens that passed the format gate are ever stored).
 *
 * An `lru-cache` bounded by `maxEntries` (least recently used evicted first) in which every entry
 * has its own `ttl`: it dies at its deadline (the token's `exp` plus tolerance, or earlier), so the
 * cache never outlives a token — a hit after the deadline is a miss and drops the entry.
 * `invalidateWhere` drops the entries a revocation covers. The TTL clock is the verifier's clock
 * (wall-clock epoch ms, the clock `exp` is measured on), not lru-cache's default monotonic one: a
 * wall-clock step must not let a cached token live past its `exp`. `maxEntries <= 0` disables caching.
 */
import { LRUCache } from "lru-cache";
import type { Principal } from "./types.ts";

export interface TokenCache {
  get(token: string): Principal | undefined;
  /** Store until `deadlineMs` (epoch ms on the cache's clock); a deadline already passed stores nothing. */
  set(token: string, principal: Principal, deadlineMs: number): void;
  /** Drop every entry whose principal matches; returns how many were dropped. */
  invalidateWhere(pred: (principal: Principal) => boolean): number;
  /** Entries held (expired ones not yet touched included). */
  readonly size: number;
}

export function createTokenCache(maxEntries: number, now: () => number = Date.now): TokenCache {
  if (maxEntries <= 0) return NO_CACHE;
  // ttlResolution 0: read the clock on every check (one Date.now) instead of caching it behind a timer.
  const entries = new LRUCache<string, Principal>({ max: maxEntries, ttlResolution: 0, perf: { now } });
  return {
    get: (token) => entries.get(token),
    set(token, principal, deadlineMs) {
      const ttl = Math.floor(deadlineMs - now());
      if (ttl >= 1) entries.set(token, principal, { ttl });
    },
    invalidateWhere(pred) {
      const doomed: string[] = [];
      for (const [token, principal] of entries.entries()) if (pred(principal)) doomed.push(token);
      for (const token of doomed) entries.delete(token);
      return doomed.length;
    },
    get size() {
      return entries.size;
    },
  };
}

const NO_CACHE: TokenCache = {
  get: () => undefined,
  set: () => undefined,
  invalidateWhere: () => 0,
  size: 0,
};
