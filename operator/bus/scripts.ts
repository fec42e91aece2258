/**
 * The publisher's Lua scripts, registered with ioredis `defineCommand` (EVALSHA, EVAL after a NOSCRIPT). The
 * scripts never build JSON: every message arrives already encoded and signed, as an argument.
 *
 * vigilApplyChange — one change of one namespace, atomically: check that the bus still has the expected epoch
 *   and the namespace head the expected revision (compare-and-set: another writer, a second leader or a Redis
 *   that lost data makes it fail instead of forking the chain), write/delete the entries, replace the head,
 *   append the event to the namespace stream (XADD MAXLEN ~), and raise P revision.
 *   KEYS: epoch, revision, head, entries, events
 *   ARGV: epochId, prevRevision, newRevision, headEnvelope, eventEnvelope, maxLen, nPut, (field, envelope)…, nDel, field…
 *   → {1} applied | {0, "epoch"} | {0, "revision", current}
 *
 * vigilResignEpoch — replace the epoch record's signature (a fresher `signedAt`) if the epoch is still current.
 *   KEYS: epoch  ARGV: epochId, envelope  → 1 | 0
 */
import type { Redis, Result } from "ioredis";

const APPLY_CHANGE = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {0, 'epoch'} end
local current = redis.call('HGET', KEYS[3], 'revision') or '0'
if current ~= ARGV[2] then return {0, 'revision', current} end
local i = 7
local nput = tonumber(ARGV[i])
i = i + 1
for _ = 1, nput do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local ndel = tonumber(ARGV[i])
i = i + 1
for _ = 1, ndel do
  redis.call('HDEL', KEYS[4], ARGV[i])
  i = i + 1
end
redis.call('HSET', KEYS[3], 'revision', ARGV[3], 'signed', ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'm', ARGV[5])
local top = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if tonumber(ARGV[3]) > top then redis.call('SET', KEYS[2], ARGV[3]) end
return {1}
`;

const RESIGN_EPOCH = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'signed', ARGV[2])
return 1
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    vigilApplyChange(epoch: string, revision: string, head: string, entries: string, events: string, ...args: string[]): Result<unknown, Context>;
    vigilResignEpoch(epoch: string, epochId: string, envelope: string): Result<unknown, Context>;
  }
}

const registered = new WeakSet<Redis>();

/** Registers the scripts on a connection (idempotent). */
export function defineBusScripts(redis: Redis): Redis {
  if (registered.has(redis)) return redis;
  redis.defineCommand("vigilApplyChange", { numberOfKeys: 5, lua: APPLY_CHANGE });
  redis.defineCommand("vigilResignEpoch", { numberOfKeys: 1, lua: RESIGN_EPOCH });
  registered.add(redis);
  return redis;
}

export type ApplyOutcome = { applied: true } | { applied: false; reason: "epoch" | "revision"; current?: string };

/** The reply of vigilApplyChange. */
export function applyOutcome(reply: unknown): ApplyOutcome {
  const items: unknown[] = Array.isArray(reply) ? (reply as unknown[]) : [];
  const [status, reason, current] = items;
  if (status === 1) return { applied: true };
  if (status === 0 && (reason === "epoch" || reason === "revision")) {
    return typeof current === "string" ? { applied: false, reason, current } : { applied: false, reason };
  }
  throw new Error("bus script returned an unexpected reply");
}
