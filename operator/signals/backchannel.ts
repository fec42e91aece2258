/**
 * OpenID Connect Back-Channel Logout 1.0 (the RP side): `POST /oidc/backchannel-logout`, form-encoded
 * `logout_token`. Validated as §2.6 says: signature with the issuer's keys and algorithm list (verify.ts), `iss`,
 * `aud` (Vigil's client IDs), `iat` (and `exp` when present), `typ` `logout+jwt` when present, an `events` claim with
 * a `http://schemas.openid.net/event/backchannel-logout` member that is a JSON object, a `sid` and/or `sub`, NO
 * `nonce`, and a `jti` not seen before (replay.ts). Then the login ends: `sid` → every session of that login at
 * that issuer (SessionTermination target idpSessionID), else `sub` → every session of the subject at that issuer.
 * Answers 200 (Cache-Control: no-store) when done, 400 with `{error, error_description}` for a token that fails
 * validation (§2.8), 503 when no SessionTermination could be created (the provider may retry).
 */
import type { BackChannelConfig } from "./config.ts";
import { keySet } from "./keys.ts";
import type { ReplayGuard } from "./replay.ts";
import type { Signal } from "./terminations.ts";
import { SignalError, verifySignalToken } from "./verify.ts";

export const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";

export interface LogoutAction {
  issuer: string;
  jti: string;
  sid?: string;
  sub?: string;
  /** Epoch ms (the token's iat, never later than now). */
  at: number;
}

export interface BackChannelReceiver {
  /** Validates a logout token; throws SignalError. */
  validate(token: string): Promise<LogoutAction>;
  /** The signal that carries out a validated logout. */
  signalOf(action: LogoutAction, namespaces: readonly string[]): Signal;
  replay: ReplayGuard;
  replayTtlMs: (issuer: string) => number;
}

export function backChannelReceiver(configs: readonly BackChannelConfig[], replay: ReplayGuard, now: () => number = Date.now): BackChannelReceiver {
  const issuers = new Map(configs.map((c) => [c.issuer, { config: c, keys: keySet(c) }]));
  return {
    replay,
    replayTtlMs: (issuer) => {
      const c = issuers.get(issuer)?.config;
      return ((c?.maxAgeSeconds ?? 600) + 2 * (c?.clockToleranceSeconds ?? 30)) * 1000;
    },
    async validate(token) {
      const claimed = unverifiedIssuer(token);
      const entry = claimed === undefined ? undefined : issuers.get(claimed);
      if (entry === undefined) throw new SignalError("invalid_issuer", "unknown_issuer", "the logout token's iss is not a configured issuer");
      const { config, keys } = entry;
      const { payload } = await verifySignalToken(token, {
        issuer: config.issuer,
        audience: config.audiences,
        algorithms: config.algorithms,
        keys,
        types: ["logout+jwt"],
        requireTyp: false,
        maxAgeSeconds: config.maxAgeSeconds,
        clockToleranceSeconds: config.clockToleranceSeconds,
        now,
      });
      const { sid, sub } = logoutClaims(payload);
      if (await replay.seen(config.issuer, payload.jti)) throw new SignalError("invalid_request", "replayed", "this logout token (jti) was already received");
      return {
        issuer: config.issuer,
        jti: payload.jti,
        ...(sid === undefined ? {} : { sid }),
        ...(sub === undefined ? {} : { sub }),
        at: Math.min(payload.iat * 1000, now()),
      };
    },
    signalOf(action, namespaces) {
      const target = action.sid !== undefined ? { idpSessionID: action.sid, issuer: action.issuer } : { subject: action.sub ?? "", issuer: action.issuer };
      return {
        source: "backchannel-logout",
        signal: "logout",
        id: `${action.issuer}\n${action.jti}`,
        target,
        cutoff: action.at,
        reason: `OpenID Connect back-channel logout from ${action.issuer} (${action.sid !== undefined ? "the login session" : "every session of the subject"})`,
        namespaces,
      };
    },
  };
}

/** §2.6 steps 4-6: the logout event, sid and/or sub, no nonce. */
function logoutClaims(payload: Record<string, unknown>): { sid: string | undefined; sub: string | undefined } {
  const events = payload["events"];
  const member = typeof events === "object" && events !== null && !Array.isArray(events) ? (events as Record<string, unknown>)[BACKCHANNEL_EVENT] : undefined;
  if (typeof member !== "object" || member === null || Array.isArray(member)) {
    throw new SignalError("invalid_request", "no_logout_event", `events must have a ${BACKCHANNEL_EVENT} member that is a JSON object`);
  }
  if (payload["nonce"] !== undefined) throw new SignalError("invalid_request", "nonce_present", "a logout token must not contain a nonce");
  const sid = checkedId(payload["sid"], "sid");
  const sub = checkedId(payload["sub"], "sub");
  if (sid === undefined && sub === undefined) throw new SignalError("invalid_request", "no_subject", "a logout token must contain sid, sub or both");
  return { sid, sub };
}

function checkedId(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "" || v.length > 256)
    throw new SignalError("invalid_request", `bad_${name}`, `${name} must be a string of 1-256 characters`);
  return v;
}

function unverifiedIssuer(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || payload.length > 16 * 1024) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { iss?: unknown }).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}
