/**
 * The session key of a session ID, read from the session's sealed record in Redis (written by the sidecars, opened
 * with the same key ring). Used when a SessionTermination targets a session ID: the revocation then also carries the
 * session key, which the session's tokens keep even after Redis lost the session index (a new session ID). Nothing
 * here throws: an unknown, expired or unreadable session, or an unreachable Redis, is `undefined` (the revocation
 * still matches the session ID).
 */
import type { Redis } from "ioredis";
import type { KeyRing } from "../../lib/sealing.ts";
import type { BusKeys } from "../api/bus/keys.ts";

const SESSION_ID = /^s_[A-Za-z0-9_-]{22}$/u;

export function sessionKeyLookup(redis: Redis, keys: BusKeys, ring: KeyRing): (sessionId: string) => Promise<string | undefined> {
  return async (sessionId) => {
    if (!SESSION_ID.test(sessionId)) return undefined;
    try {
      const sealed = await redis.get(keys.sessionRecord(sessionId));
      if (sealed === null) return undefined;
      const key = ring.open(sessionId, sealed)["key"];
      return typeof key === "string" && key.length > 0 && key.length <= 128 ? key : undefined;
    } catch {
      return undefined;
    }
  };
}
