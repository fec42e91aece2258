/**
 * An identity's recent locations (personal data): the last `MAX_PLACES` places it was seen at, in Redis, sealed with
 * the session key ring (purpose `locations`, the key name bound as AAD), under a key that names no one
 * (`P locations:<SHA-256 of issuer and subject>`), expiring `TTL_MS` after the last write. Read and written only when
 * a session's client address changes (first sight, a new address), never per request. Two sidecars writing at once:
 * the last write wins (a lost place only weakens one comparison). An unreadable record counts as no history.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { BusKeys } from "../../operator/api/bus/keys.ts";
import type { Place } from "../../operator/api/protections/findings.ts";
import type { Sealer } from "../../lib/sealing.ts";

export const MAX_PLACES = 20;
export const TTL_MS = 7 * 24 * 3600_000;

export function identityKey(issuer: string, subject: string): string {
  return createHash("sha256")
    .update(JSON.stringify(["vigil/identity/v1", issuer, subject]))
    .digest("base64url");
}

const placeSchema = z.object({
  country: z.string().max(8).optional(),
  city: z.string().max(128).optional(),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  accuracyRadiusKm: z.number().min(0).max(20_000),
  time: z.number().min(0),
});
const historySchema = z.object({ v: z.literal(1), places: z.array(placeSchema).max(MAX_PLACES) });

export class LocationHistory {
  readonly #redis: Redis;
  readonly #keys: BusKeys;
  readonly #sealer: Sealer;

  constructor(redis: Redis, keys: BusKeys, sealer: Sealer) {
    this.#redis = redis;
    this.#keys = keys;
    this.#sealer = sealer;
  }

  async read(identity: string): Promise<Place[]> {
    const key = this.#keys.locations(identity);
    const sealed = await this.#redis.get(key);
    if (sealed === null) return [];
    try {
      const parsed = historySchema.safeParse(this.#sealer.open(key, sealed));
      return parsed.success ? (parsed.data.places as Place[]) : [];
    } catch {
      return [];
    }
  }

  /** `history` with `place` added (newest last, at most MAX_PLACES), written back. */
  async append(identity: string, history: readonly Place[], place: Place): Promise<void> {
    const key = this.#keys.locations(identity);
    const places = [...history, place].sort((a, b) => a.time - b.time).slice(-MAX_PLACES);
    await this.#redis.set(key, this.#sealer.seal(key, { v: 1, places }), "PX", TTL_MS);
  }
}
