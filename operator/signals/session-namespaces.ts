/**
 * The namespaces a session touched, from its sealed record (`workloads: ["<ns>/<pod>", …]`), opened with the session
 * key ring. Nothing here throws: an unknown, expired or unreadable session is [].
 */
import type { Redis } from "ioredis";
import type { KeyRing } from "../../lib/sealing.ts";
import type { BusKeys } from "../api/bus/keys.ts";

const SESSION_ID = /^s_[A-Za-z0-9_-]{22}$/u;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u;

export function sessionNamespacesLookup(redis: Redis, keys: BusKeys, ring: KeyRing): (sessionId: string) => Promise<string[]> {
  return async (sessionId) => {
    if (!SESSION_ID.test(sessionId)) return [];
    try {
      const sealed = await redis.get(keys.sessionRecord(sessionId));
      if (sealed === null) return [];
      const workloads = ring.open(sessionId, sealed)["workloads"];
      if (!Array.isArray(workloads)) return [];
      const namespaces = workloads.flatMap((w) => (typeof w === "string" ? [w.split("/")[0] ?? ""] : [])).filter((ns) => NAMESPACE.test(ns));
      return [...new Set(namespaces)].slice(0, 64);
    } catch {
      return [];
    }
  };
}
