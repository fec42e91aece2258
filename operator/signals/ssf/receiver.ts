/**
 * One SSF stream's receiver: verifies a SET (RFC 8417: signature with the transmitter's keys from its discovery
 * document's `jwks_uri`, the configured algorithms, `iss` = the transmitter, `aud` = this receiver, `iat` (at most
 * seven days old), `exp` when present, `typ` secevent+jwt, `jti` never seen before), reads its one event (events.ts) and acts: SessionTerminations
 * for revocations, an audit log line for audit-only events, the verification state, the stream status. Used by push
 * (any replica) and poll (the leader). Throws SignalError for a SET to refuse; acted-on SETs are remembered.
 */
import type { JWTVerifyGetKey } from "jose";
import type { Logger } from "../../../lib/log.ts";
import type { SsfConfig } from "../config.ts";
import { keySet } from "../keys.ts";
import type { ReplayGuard } from "../replay.ts";
import type { Signal } from "../terminations.ts";
import { SignalError, verifySignalToken } from "../verify.ts";
import type { Discovery } from "./client.ts";
import { actionOf } from "./events.ts";
import type { StreamVerification } from "./verification.ts";

export interface StreamHealth {
  status: "unknown" | "enabled" | "paused" | "disabled";
  streamId: string | undefined;
  lastEventAt: number | undefined;
  verifiedAt: number | undefined;
}

export interface ReceiverDeps {
  config: SsfConfig;
  discover: () => Promise<Discovery>;
  replay: ReplayGuard;
  end: (signal: Signal) => Promise<{ failed: string[]; created: string[]; existing: string[] }>;
  namespaces: () => Promise<string[]>;
  health: StreamHealth;
  verification: StreamVerification;
  count: (result: string) => void;
  log: Logger;
  now?: () => number;
}

/**
 * SETs issued longer ago than this are refused (`too_old`): their jti is remembered for this long (plus twice the
 * clock tolerance), so a SET can never be replayed once its jti is forgotten.
 */
const MAX_AGE_SECONDS = 7 * 24 * 3600;

export class SsfReceiver {
  readonly #d: ReceiverDeps;
  #keys: { jwksUri: string; keys: JWTVerifyGetKey } | undefined;

  constructor(deps: ReceiverDeps) {
    this.#d = deps;
  }

  get name(): string {
    return this.#d.config.name;
  }

  async #keySet(): Promise<JWTVerifyGetKey> {
    let discovery: Discovery;
    try {
      discovery = await this.#d.discover();
    } catch (err) {
      throw new SignalError(
        "invalid_key",
        "discovery_failed",
        `the transmitter's keys could not be found: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (this.#keys?.jwksUri !== discovery.jwks_uri) this.#keys = { jwksUri: discovery.jwks_uri, keys: keySet({ jwksUri: discovery.jwks_uri }) };
    return this.#keys.keys;
  }

  /** Verify and act on one SET. */
  async process(token: string): Promise<void> {
    try {
      await this.#process(token);
      this.#d.count("accepted");
    } catch (err) {
      this.#d.count(err instanceof SignalError ? err.reason : "error");
      throw err;
    }
  }

  async #process(token: string): Promise<void> {
    const { config } = this.#d;
    const now = (this.#d.now ?? Date.now)();
    const { payload } = await verifySignalToken(token, {
      issuer: config.transmitter,
      audience: config.audience,
      algorithms: config.algorithms,
      keys: await this.#keySet(),
      types: ["secevent+jwt"],
      requireTyp: true,
      maxAgeSeconds: MAX_AGE_SECONDS,
      clockToleranceSeconds: config.clockToleranceSeconds,
      now: () => now,
    });
    if (await this.#d.replay.seen(config.transmitter, payload.jti)) throw new SignalError("invalid_request", "replayed", "this SET (jti) was already received");
    const action = actionOf(payload, config.subjectIssuer, now);
    switch (action.kind) {
      case "verification": {
        const matched = await this.#d.verification.received(action.state, now);
        if (matched) this.#d.health.verifiedAt = now;
        this.#d.log.info({ event: "ssf.verification", stream: config.name, matched }, "SSF verification event received");
        break;
      }
      case "stream-updated":
        if (action.status === "enabled" || action.status === "paused" || action.status === "disabled") this.#d.health.status = action.status;
        this.#d.log.info({ event: "ssf.stream_updated", stream: config.name, status: action.status }, "SSF stream status changed");
        break;
      case "audit":
        this.#d.log.info(
          { event: "ssf.audit", stream: config.name, signal: action.signal, description: action.description },
          "SSF event recorded (no session ends)",
        );
        break;
      case "terminate": {
        const outcome = await this.#d.end({
          source: "ssf",
          signal: action.signal,
          id: `${config.transmitter}\n${payload.jti}`,
          target: action.target,
          cutoff: action.cutoff,
          reason: `${action.description} (SSF stream ${config.name})`,
          namespaces: await this.#d.namespaces(),
        });
        if (outcome.failed.length > 0 && outcome.created.length + outcome.existing.length === 0) {
          throw new SignalError("temporarily_unavailable", "not_applied", "the event could not be applied now; deliver it again");
        }
        break;
      }
    }
    this.#d.health.lastEventAt = now;
    await this.#d.replay.remember(config.transmitter, payload.jti, (MAX_AGE_SECONDS + 2 * config.clockToleranceSeconds) * 1000);
  }
}
