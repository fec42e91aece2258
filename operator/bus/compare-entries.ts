/**
 * Every entry of one namespace as read from Redis against what the publisher wrote (its digest tree's entry
 * hashes): the deep check of `verifyContents`. With 10,000 entries this is hundreds of milliseconds of hashing on a
 * busy core, so it yields to the event loop every YIELD_EVERY entries (publishes, watches and the Lease go on).
 * Whether the namespace changed meanwhile is the caller's to tell (publisher.ts compares the head revision).
 */
import { entryHash } from "../api/bus/digest.ts";
import { pairsOf } from "../api/bus/replies.ts";
import type { Damage } from "./publisher.ts";
import type { PublishedNamespace } from "./published.ts";
import { bodyTextOf } from "./signed-writes.ts";

const YIELD_EVERY = 500;

export async function compareEntries(namespace: string, state: PublishedNamespace, reply: unknown): Promise<Damage | null> {
  const seen = new Set<string>();
  for (const [field, raw] of pairsOf(reply)) {
    if (seen.size % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    seen.add(field);
    const text = typeof raw === "string" ? bodyTextOf(raw) : undefined;
    if (text === undefined || state.digest.hashOf(field) !== entryHash(text))
      return { reason: "altered", message: `entry ${field} of namespace ${namespace} was altered` };
  }
  if (seen.size !== state.entries.size) return { reason: "altered", message: `namespace ${namespace} lost or gained entries` };
  return null;
}
