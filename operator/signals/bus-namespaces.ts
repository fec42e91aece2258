/**
 * The namespaces a signal must reach: those with a live sidecar, and every namespace the bus holds a head for in the
 * current epoch (a sidecar whose heartbeat is late — a busy node, a restart — still holds sessions the signal must
 * end once it is back).
 *
 * Every replica receives signals, but only the leader loads the bus into memory: the leader answers from its
 * publisher; any other replica reads the bus from Redis (the epoch record exists; the namespaces' head keys). Before
 * the bus was ever built the namespaces are unknown, not none: the signal is refused as retryable (`not_ready`,
 * answered 503 `temporarily_unavailable`), never answered as applied with nothing ended.
 */
import type { Redis } from "ioredis";
import { namespaceOfKey, type BusKeys } from "../api/bus/keys.ts";
import { SignalError } from "./verify.ts";

/** What the receivers read of the operator's bus: its live sidecars and what the leader has loaded. */
export interface BusNamespaces {
  liveSidecars(): Promise<{ namespace: string }[]>;
  publisher: { namespaces(): string[]; readonly epoch: unknown };
}

export const notReady = (): SignalError => new SignalError("temporarily_unavailable", "not_ready", "the operator is not ready; deliver the signal again");

const MAX_SCAN_ROUNDS = 1000;

/** The bus as Redis holds it: undefined when it was never built, else the namespaces with a head. */
async function storedNamespaces(redis: Redis, keys: BusKeys): Promise<string[] | undefined> {
  if ((await redis.exists(keys.epoch)) === 0) return undefined;
  const found = new Set<string>();
  let cursor = "0";
  for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
    const [next, batch] = await redis.scan(cursor, "MATCH", keys.namespacePattern, "COUNT", 1000);
    for (const key of batch) {
      const ns = key.endsWith(":head") ? namespaceOfKey(keys, key) : null;
      if (ns !== null) found.add(ns);
    }
    cursor = next;
    if (cursor === "0") break;
  }
  return [...found];
}

export function busNamespaces(bus: BusNamespaces, redis: Redis, keys: BusKeys): () => Promise<string[]> {
  return async () => {
    const known = bus.publisher.epoch === null ? await storedNamespaces(redis, keys) : bus.publisher.namespaces();
    if (known === undefined) throw notReady();
    return [...new Set([...(await bus.liveSidecars()).map((h) => h.namespace), ...known])].sort();
  };
}
