/**
 * An SSF stream's verification (SSF 1.0 §8.1.4), shared by every operator replica through Redis
 * (`P ssf-verification:<name>`, a hash): the leader asks the transmitter for a verification event with a fresh random
 * `state` and stores it; the event is pushed to whichever replica the Service picks, which matches the echoed state
 * against the stored one and records when; the leader reads that time back for its metrics.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { BusKeys } from "../../api/bus/keys.ts";

/** Longer than any health-check period: a state nobody verified is forgotten, never matched later. */
const STATE_TTL_SECONDS = 24 * 3600;

export class StreamVerification {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, keys: BusKeys, stream: string) {
    this.#redis = redis;
    this.#key = keys.ssfVerification(stream);
  }

  /** A new state to ask the transmitter to echo (the previous one no longer matches). */
  async ask(): Promise<string> {
    const state = randomBytes(16).toString("base64url");
    await this.#redis.multi().hset(this.#key, "state", state).expire(this.#key, STATE_TTL_SECONDS).exec();
    return state;
  }

  /** A verification event arrived: true (and recorded at `now`) when it echoes the state asked for last. */
  async received(state: string | undefined, now: number): Promise<boolean> {
    if (state === undefined || state !== (await this.#redis.hget(this.#key, "state"))) return false;
    await this.#redis.hset(this.#key, "verifiedAt", String(now));
    return true;
  }

  /** When the stream last echoed the state asked for (epoch ms), on whichever replica it arrived. */
  async verifiedAt(): Promise<number | undefined> {
    const at = Number(await this.#redis.hget(this.#key, "verifiedAt"));
    return Number.isFinite(at) && at > 0 ? at : undefined;
  }
}
