/**
 * What a sidecar writes to the bus: its heartbeat (`P sidecars`) and its acknowledgement of each termination
 * (`P acks:<id>`, with a TTL, plus the termination id on `P ack-events` so the operator updates the status at
 * once, also for late acknowledgements). These are the only keys a sidecar writes; they carry no enforcement
 * state. Failures reject with a SidecarError BUS_UNAVAILABLE (cause attached).
 */
import type { Redis } from "ioredis";
import { encodeAck, encodeHeartbeat } from "../../operator/api/bus/codec.ts";
import { busKeys, DEFAULT_BUS_PREFIX, podField, STREAM_MESSAGE_FIELD, type BusKeys } from "../../operator/api/bus/keys.ts";
import type { Ack, Heartbeat } from "../../operator/api/bus/messages.ts";
import { execValues } from "../../operator/api/bus/replies.ts";
import { SidecarError } from "../errors.ts";

export interface ReporterOptions {
  redis: Redis;
  prefix?: string;
  /** TTL of P acks:<id>. Default 24 h. */
  ackTtlSeconds?: number;
  /** Cap of P ack-events. Default 10,000. */
  ackStreamMaxLength?: number;
}

export class BusReporter {
  readonly #redis: Redis;
  readonly #keys: BusKeys;
  readonly #ackTtl: number;
  readonly #ackCap: string;

  constructor(options: ReporterOptions) {
    this.#redis = options.redis;
    this.#keys = busKeys(options.prefix ?? DEFAULT_BUS_PREFIX);
    this.#ackTtl = options.ackTtlSeconds ?? 86_400;
    this.#ackCap = String(options.ackStreamMaxLength ?? 10_000);
  }

  async heartbeat(hb: Heartbeat): Promise<void> {
    try {
      await this.#redis.hset(this.#keys.sidecars, podField(hb.namespace, hb.pod), encodeHeartbeat(hb));
    } catch (error: unknown) {
      throw new SidecarError("BUS_UNAVAILABLE", "heartbeat could not be written to the bus", { cause: error });
    }
  }

  async ack(ack: Ack): Promise<void> {
    const key = this.#keys.acks(ack.terminationId);
    try {
      const results = await this.#redis
        .multi()
        .hset(key, podField(ack.namespace, ack.pod), encodeAck(ack))
        .expire(key, this.#ackTtl)
        .xadd(this.#keys.ackEvents, "MAXLEN", "~", this.#ackCap, "*", STREAM_MESSAGE_FIELD, ack.terminationId)
        .exec();
      execValues(results, 3);
    } catch (error: unknown) {
      throw new SidecarError("BUS_UNAVAILABLE", "acknowledgement could not be written to the bus", { cause: error });
    }
  }
}
