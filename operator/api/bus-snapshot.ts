import type { Redis } from "ioredis";
import type { Revocation, StoredPolicy } from "./bus.ts";
import { decodeRevocation, decodeStoredPolicy, type Decoded } from "./bus-codec.ts";
import { objectField, STREAM_MESSAGE_FIELD, type BusKeys } from "./bus-keys.ts";
import { execValues, pairsOf, parseCounter, parseRange } from "./bus-replies.ts";

/**
 * One consistent read of the whole bus state in ONE round trip: a MULTI/EXEC of
 * GET revision, HGETALL policies, HGETALL revocations and XREVRANGE events + - COUNT 1.
 * Because the publisher changes revision, hashes and stream inside one script, the stream ID read
 * here is exactly the position after which every later change appears.
 * Entries are decoded and checked against their hash field (a policy stored under another
 * `<ns>/<name>`, or a revocation under another id, is invalid); nothing here throws on bad data.
 */

export interface RawBusState {
  /** Value of P revision; 0 when missing, null when the key holds garbage. */
  revision: number | null;
  /** ID of the newest stream entry, `0-0` when the stream is empty or missing. */
  streamId: string;
  policies: Map<string, Decoded<StoredPolicy>>;
  revocations: Map<string, Decoded<Revocation>>;
}

function checkPolicyField(field: string, decoded: Decoded<StoredPolicy>): Decoded<StoredPolicy> {
  if (!decoded.ok) return decoded;
  const { namespace, name } = decoded.value.policy;
  if (objectField(namespace, name) === field) return decoded;
  return { ok: false, error: { code: "BUS_INVALID_FIELD", message: `policy ${namespace}/${name} stored under another field` } };
}

function checkRevocationField(field: string, decoded: Decoded<Revocation>): Decoded<Revocation> {
  if (!decoded.ok || decoded.value.id === field) return decoded;
  return { ok: false, error: { code: "BUS_INVALID_FIELD", message: "revocation stored under another id" } };
}

/** Reads the raw bus state (one MULTI/EXEC); rejects only when Redis itself fails. */
export async function readBusState(redis: Redis, keys: BusKeys): Promise<RawBusState> {
  const results = await redis
    .multi()
    .call("GET", keys.revision)
    .call("HGETALL", keys.policies)
    .call("HGETALL", keys.revocations)
    .call("XREVRANGE", keys.events, "+", "-", "COUNT", "1")
    .exec();
  const [revision, policies, revocations, last] = execValues(results, 4);
  return {
    revision: revision === null ? 0 : parseCounter(revision),
    streamId: parseRange(last, STREAM_MESSAGE_FIELD)[0]?.id ?? "0-0",
    policies: new Map(pairsOf(policies).map(([field, raw]) => [field, checkPolicyField(field, decodeStoredPolicy(raw))])),
    revocations: new Map(
      pairsOf(revocations).map(([field, raw]) => [field, checkRevocationField(field, decodeRevocation(raw))]),
    ),
  };
}
