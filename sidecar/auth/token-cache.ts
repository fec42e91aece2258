/**
 * Verified-token cache: full token string → Principal, so a repeated token skips signature
 * verification. Bounded in size (least recently used evicted first), each entry expires at its
 * own deadline (the token's `exp`, or earlier), and `invalidateWhere` drops entries that a
 * revocation covers. The cache never outlives a token: a hit after the deadline is a miss.
 */
import type { Principal } from "./types.ts";

interface Entry {
  principal: Principal;
  /** Epoch ms after which the entry is dead. */
  deadline: number;
}

export interface TokenCache {
  get(token: string, nowMs: number): Principal | undefined;
  set(token: string, principal: Principal, deadlineMs: number, nowMs: number): void;
  /** Drop every entry whose principal matches; returns how many were dropped. */
  invalidateWhere(pred: (principal: Principal) => boolean): number;
  readonly size: number;
}

export function createTokenCache(maxEntries: number): TokenCache {
  const entries = new Map<string, Entry>();
  return {
    get(token, nowMs) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      entries.delete(token);
      if (nowMs >= entry.deadline) return undefined;
      entries.set(token, entry); // most recently used goes last
      return entry.principal;
    },
    set(token, principal, deadlineMs, nowMs) {
      if (maxEntries <= 0 || nowMs >= deadlineMs) return;
      entries.delete(token);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      entries.set(token, { principal, deadline: deadlineMs });
    },
    invalidateWhere(pred) {
      let dropped = 0;
      for (const [token, entry] of entries) {
        if (pred(entry.principal)) {
          entries.delete(token);
          dropped++;
        }
      }
      return dropped;
    },
    get size() {
      return entries.size;
    },
  };
}
