/**
 * A new session's two Redis writes in one round trip (docs/decisions/perf-0007): the Lua script `vigilCreateSession`,
 * registered with ioredis `defineCommand` (EVALSHA, EVAL after a NOSCRIPT).
 *
 *   KEYS: session index of the session key, session record of the proposed ID   ARGV: proposed ID, sealed record, TTL ms
 *   SET index NX PX; when it was set, SET record NX PX in the same atomic step.
 *   → {1, id} index and record written | {2, id} index written, a record already stored under that ID |
 *     {0, id} another sidecar's ID is the index's | {0} the index is gone (expired between the two commands)
 *
 * Atomic: an index never points at a session whose record was not written by the same step, and a proposed ID that
 * lost the race leaves nothing behind. Both keys are under the bus prefix (one hash slot when it has a hash tag).
 */
import type { Redis, Result } from "ioredis";

const CREATE_SESSION = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX') then
  if redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') then return {1, ARGV[1]} end
  return {2, ARGV[1]}
end
local id = redis.call('GET', KEYS[1])
if id then return {0, id} end
return {0}
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    vigilCreateSession(indexKey: string, recordKey: string, proposedId: string, sealed: string, ttlMs: string): Result<unknown, Context>;
  }
}

const registered = new WeakSet<Redis>();

/** Registers the script on a connection (idempotent). */
export function defineSessionScripts(redis: Redis): Redis {
  if (registered.has(redis)) return redis;
  redis.defineCommand("vigilCreateSession", { numberOfKeys: 2, lua: CREATE_SESSION });
  registered.add(redis);
  return redis;
}

export type CreateOutcome =
  | { kind: "created"; id: string }
  /** The index is ours but a record was already stored under the ID: read it. */
  | { kind: "record-exists"; id: string }
  /** Another sidecar won: its ID (null when the index vanished in between). */
  | { kind: "lost"; id: string | null };

/** The reply of vigilCreateSession; anything else is an Error (the store turns it into SESSION_STORE_UNAVAILABLE). */
export function createOutcome(reply: unknown): CreateOutcome {
  const [status, id] = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (status === 1 && typeof id === "string") return { kind: "created", id };
  if (status === 2 && typeof id === "string") return { kind: "record-exists", id };
  if (status === 0) return { kind: "lost", id: typeof id === "string" ? id : null };
  throw new Error("the session script returned an unexpected reply");
}
