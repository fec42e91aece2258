import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * Lua scripts of the bus publisher. Each change is ONE script, so the revision bump, the hash write
 * and the stream append are atomic and the stream order equals the revision order (every revision
 * has exactly one event: readers use that to detect gaps).
 *
 * The revision is read with GET and written with SET rather than INCR so that a garbage value (a
 * rogue writer) cannot wedge the bus, and so that it never goes below the publisher's floor (the
 * highest revision it has seen): after Redis restarts empty, revisions keep increasing.
 * Numbers are formatted with %d (Lua's tostring would switch to exponent notation above 1e14).
 */

export interface BusScript {
  source: string;
  sha: string;
}

function script(body: string): BusScript {
  const source = `
local function next_revision(floor_arg)
  local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  local floor = tonumber(floor_arg) or 0
  local revision = math.max(current, floor) + 1
  redis.call('SET', KEYS[1], string.format('%d', revision))
  return revision
end
${body}`;
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * KEYS: revision, policies, events. ARGV: field, hash, policy JSON, maxlen, floor, force ("1"/"0").
 * No-op (returns {0, stored revision}) when the stored policy has the same hash and force is "0".
 */
export const UPSERT_POLICY = script(`
if ARGV[6] ~= '1' then
  local stored = redis.call('HGET', KEYS[2], ARGV[1])
  if stored then
    local ok, obj = pcall(cjson.decode, stored)
    if ok and type(obj) == 'table' and type(obj.policy) == 'table' and obj.policy.hash == ARGV[2]
      and type(obj.revision) == 'number' then
      return {0, obj.revision}
    end
  end
end
local revision = next_revision(ARGV[5])
local r = string.format('%d', revision)
redis.call('HSET', KEYS[2], ARGV[1], '{"v":1,"revision":' .. r .. ',"policy":' .. ARGV[3] .. '}')
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'm',
  '{"v":1,"type":"policy.upsert","revision":' .. r .. ',"policy":' .. ARGV[3] .. '}')
return {1, revision}
`);

/** KEYS: revision, policies, events. ARGV: field, namespace JSON, name JSON, maxlen, floor. */
export const DELETE_POLICY = script(`
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  return {0, 0}
end
local revision = next_revision(ARGV[5])
local r = string.format('%d', revision)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'm',
  '{"v":1,"type":"policy.delete","revision":' .. r .. ',"namespace":' .. ARGV[2] .. ',"name":' .. ARGV[3] .. '}')
return {1, revision}
`);

/**
 * KEYS: revision, revocations, events. ARGV: id, revocation JSON without its revision (an object),
 * maxlen, floor, force. Writes the durable record FIRST, then appends the termination event.
 * No-op (returns {0, stored revision}) when a record with this id exists and force is "0".
 */
export const PUBLISH_TERMINATION = script(`
if ARGV[5] ~= '1' then
  local stored = redis.call('HGET', KEYS[2], ARGV[1])
  if stored then
    local ok, obj = pcall(cjson.decode, stored)
    if ok and type(obj) == 'table' and type(obj.revision) == 'number' then
      return {0, obj.revision}
    end
  end
end
local revision = next_revision(ARGV[4])
local r = string.format('%d', revision)
local record = string.sub(ARGV[2], 1, -2) .. ',"revision":' .. r .. '}'
redis.call('HSET', KEYS[2], ARGV[1], record)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'm',
  '{"v":1,"type":"termination","revision":' .. r .. ',"revocation":' .. record .. '}')
return {1, revision}
`);

/** Runs a script by SHA, loading it on NOSCRIPT (e.g. after a Redis restart). */
export async function runScript(
  redis: Redis,
  busScript: BusScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  try {
    return await redis.call("EVALSHA", busScript.sha, String(keys.length), ...keys, ...args);
  } catch (error: unknown) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return redis.call("EVAL", busScript.source, String(keys.length), ...keys, ...args);
  }
}

/** `{changed, revision}` from a script's `{0|1, revision}` reply. */
export function scriptResult(reply: unknown): { changed: boolean; revision: number } {
  if (!Array.isArray(reply) || typeof reply[0] !== "number" || typeof reply[1] !== "number") {
    throw new Error("bus script returned an unexpected reply");
  }
  return { changed: reply[0] === 1, revision: reply[1] };
}
