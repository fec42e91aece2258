/**
 * One SSF stream at its transmitter, kept by the leader (a controller with one synthetic key per stream):
 *
 * - the stream: created once at the transmitter's configuration_endpoint (push: Vigil's push URL and the bearer the
 *   transmitter must send; poll: the transmitter's poll endpoint is returned), its stream_id and poll URL kept in
 *   Redis (`P ssf-stream:<name>`) so a restart or a new leader reuses it; if the transmitter no longer knows it
 *   (404), a new one is created;
 * - health, every healthCheckSeconds: the status endpoint (enabled / paused / disabled: a paused stream may have
 *   lost events, logged as such) and a verification request with a fresh random state, which the verification
 *   event must echo, on whichever replica it arrives (verification.ts) — both in metrics;
 * - poll delivery (RFC 8936): every pollIntervalSeconds (at once while moreAvailable), acknowledging the SETs
 *   processed and reporting the refused ones in setErrs with their error code.
 * Transmitter failures are logged and retried on the next round; nothing here throws out of the controller.
 */
import { readFile } from "node:fs/promises";
import type { Redis } from "ioredis";
import type { BusKeys } from "../../api/bus/keys.ts";
import type { Logger } from "../../../lib/log.ts";
import type { ReconcileContext, Reconciler, Result } from "../../controller/reconciler.ts";
import type { SsfConfig } from "../config.ts";
import { SignalError } from "../verify.ts";
import { POLL_METHOD, PUSH_METHOD, TransmitterError, type Discovery, type TransmitterClient } from "./client.ts";
import { EVENT_TYPES } from "./events.ts";
import type { SsfReceiver, StreamHealth } from "./receiver.ts";
import type { StreamVerification } from "./verification.ts";

export const ssfStreamKey = (name: string): string => `vigil-operator/ssf/${name}`;

export interface StreamControllerDeps {
  config: SsfConfig;
  client: TransmitterClient;
  discover: () => Promise<Discovery>;
  receiver: SsfReceiver;
  health: StreamHealth;
  verification: StreamVerification;
  redis: Redis;
  keys: BusKeys;
  log: Logger;
  now?: () => number;
}

interface Stored {
  streamId: string;
  pollUrl?: string;
}

export class SsfStreamController implements Reconciler {
  readonly #d: StreamControllerDeps;
  #stored: Stored | undefined;
  #checkedAt = 0;
  #acks: string[] = [];
  #errs: Record<string, { err: string; description: string }> = {};

  constructor(deps: StreamControllerDeps) {
    this.#d = deps;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const { config, log } = this.#d;
    const now = (this.#d.now ?? Date.now)();
    const period = (config.delivery === "poll" ? config.pollIntervalSeconds : config.healthCheckSeconds) * 1000;
    try {
      const discovery = await this.#d.discover();
      const stored = await this.#stream(discovery);
      if (now - this.#checkedAt >= config.healthCheckSeconds * 1000) {
        this.#checkedAt = now;
        await this.#health(discovery, stored.streamId);
      }
      if (config.delivery === "poll" && stored.pollUrl !== undefined && !ctx.signal.aborted) {
        const more = await this.#poll(stored.pollUrl);
        if (more) return { requeueAfterMs: 1 };
      }
    } catch (err) {
      log.warn(
        { event: "ssf.stream_error", stream: config.name, err: err instanceof Error ? err.message : String(err) },
        "SSF stream management failed; retrying",
      );
      if (err instanceof TransmitterError && err.status === 404) await this.#forget();
    }
    return { requeueAfterMs: period };
  }

  async #stream(discovery: Discovery): Promise<Stored> {
    if (this.#stored !== undefined) return this.#stored;
    const { config, redis, keys, client, health, log } = this.#d;
    const raw = await redis.get(keys.ssfStream(config.name));
    const known = raw === null ? undefined : parseStored(raw);
    if (known !== undefined) {
      await client.readStream(discovery, known.streamId);
      this.#stored = known;
    } else {
      const delivery =
        config.delivery === "push"
          ? {
              method: PUSH_METHOD,
              endpoint_url: config.pushUrl ?? "",
              authorization_header: `Bearer ${(await readFile(config.pushTokenFile ?? "", "utf8")).trim()}`,
            }
          : { method: POLL_METHOD };
      const created = await client.createStream(discovery, {
        delivery,
        events_requested: [EVENT_TYPES.sessionRevoked, EVENT_TYPES.credentialChange, EVENT_TYPES.deviceComplianceChange, EVENT_TYPES.assuranceLevelChange],
        description: `Vigil session control (${config.name})`,
      });
      const pollUrl = config.delivery === "poll" ? created.delivery?.endpoint_url : undefined;
      if (config.delivery === "poll" && pollUrl === undefined) throw new TransmitterError("the transmitter created a poll stream without an endpoint_url");
      this.#stored = { streamId: created.stream_id, ...(pollUrl === undefined ? {} : { pollUrl }) };
      await redis.set(keys.ssfStream(config.name), JSON.stringify(this.#stored));
      log.info({ event: "ssf.stream_created", stream: config.name, delivery: config.delivery }, "SSF stream created at the transmitter");
    }
    health.streamId = this.#stored.streamId;
    return this.#stored;
  }

  async #forget(): Promise<void> {
    this.#stored = undefined;
    this.#d.health.streamId = undefined;
    await this.#d.redis.del(this.#d.keys.ssfStream(this.#d.config.name)).catch(() => 0);
  }

  async #health(discovery: Discovery, streamId: string): Promise<void> {
    const { client, health, log, config, verification } = this.#d;
    const status = await client.status(discovery, streamId);
    if (status.status !== "enabled" && health.status === "enabled")
      log.warn({ event: "ssf.stream_not_enabled", stream: config.name, status: status.status }, "SSF stream is not enabled: events may be lost");
    health.status = status.status;
    health.verifiedAt = (await verification.verifiedAt()) ?? health.verifiedAt;
    await client.requestVerification(discovery, streamId, await verification.ask());
  }

  /** One poll round; true when the transmitter has more. */
  async #poll(url: string): Promise<boolean> {
    const { client, config } = this.#d;
    const answer = await client.poll(url, { ack: this.#acks, setErrs: this.#errs, maxEvents: config.maxEvents, returnImmediately: true });
    this.#acks = [];
    this.#errs = {};
    for (const [jti, set] of Object.entries(answer.sets)) {
      const outcome = await this.#processPolled(set);
      if (outcome === "ack") this.#acks.push(jti);
      else if (outcome !== "retry") this.#errs[jti] = outcome;
    }
    if (answer.moreAvailable || this.#acks.length > 0 || Object.keys(this.#errs).length > 0) {
      // Acknowledge at once (and fetch what is left).
      return true;
    }
    return false;
  }

  /**
   * RFC 8936 §2.4: a processed SET is acknowledged; one already processed (its jti remembered: an earlier
   * acknowledgement was lost with a restart or a new leader) is acknowledged again; a refused one is reported in
   * setErrs with its error code; one that could not be applied now, or whose processing failed for a reason of
   * Vigil's own (Redis), stays unacknowledged and is delivered again.
   */
  async #processPolled(set: string): Promise<"ack" | "retry" | { err: string; description: string }> {
    try {
      await this.#d.receiver.process(set);
      return "ack";
    } catch (err) {
      if (err instanceof SignalError && err.reason === "replayed") return "ack";
      if (err instanceof SignalError && err.code !== "temporarily_unavailable") return { err: err.code, description: err.message };
      if (!(err instanceof SignalError))
        this.#d.log.warn(
          { event: "ssf.poll_process_failed", stream: this.#d.config.name, err: err instanceof Error ? err.message : String(err) },
          "a polled SET could not be processed; it stays unacknowledged",
        );
      return "retry";
    }
  }
}

function parseStored(raw: string): Stored | undefined {
  try {
    const v = JSON.parse(raw) as { streamId?: unknown; pollUrl?: unknown };
    if (typeof v.streamId !== "string" || v.streamId === "") return undefined;
    return typeof v.pollUrl === "string" ? { streamId: v.streamId, pollUrl: v.pollUrl } : { streamId: v.streamId };
  } catch {
    return undefined;
  }
}
