/**
 * `jti` replay refusal, shared by every operator replica (signals may reach any of them): a token's (issuer, jti)
 * is remembered in Redis (`P signal-jti:<SHA-256>`, names no one) for longer than the token is acceptable. `seen`
 * reads; `remember` writes after the signal was acted on (a failed attempt may be retried by the sender; two
 * simultaneous deliveries create the same SessionTerminations by name, so nothing happens twice).
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { BusKeys } from "../api/bus/keys.ts";

export class ReplayGuard {
  readonly #redis: Redis;
  readonly #keys: BusKeys;

  constructor(redis: Redis, keys: BusKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  #key(issuer: string, jti: string): string {
    return this.#keys.signalJti(
      createHash("sha256")
        .update(JSON.stringify([issuer, jti]))
        .digest("base64url"),
    );
  }

  async seen(issuer: string, jti: string): Promise<boolean> {
    return (await this.#redis.exists(this.#key(issuer, jti))) === 1;
  }

  async remember(issuer: string, jti: string, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#key(issuer, jti), "1", "PX", ttlMs);
  }
}
