/**
 * The session protections on the request path (sidecar/gate.ts calls `check` after the session resolved): network
 * binding, device binding, impossible travel with new-country events and locations, concurrent-session limits —
 * each at the strictest mode of the selecting policies (effective.ts).
 *
 * Cost: when no policy sets a protection, one memoised property check. Otherwise a per-session state (bounded LRU)
 * remembers what was already checked, so a steady session costs a few string comparisons per request: the network
 * and geolocation are looked at again only when the client address changes, the device only when a raw header
 * differs from the session's first request, the concurrency limit once per session on this sidecar.
 *
 * A finding in Audit is reported once per session and distinct evidence, and the request goes on. In Enforce it is
 * reported, the session is ended here at once (its record ends with the code, its live flows here are reset), the
 * operator is asked to end it everywhere (end-requests.ts), and the request is refused with the code. EndOldest
 * ends the oldest sessions that way and admits this one. Redis failures while checking limits or locations are
 * not findings: the check is skipped (logged, retried on the session's next request).
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import { FINDING_CODES, type EnforceableCode, type FindingEvidence, type SessionFinding } from "../../operator/api/protections/findings.ts";
import type { Principal } from "../auth/types.ts";
import { SidecarError } from "../errors.ts";
import { cachedLogins } from "../memory-budget.ts";
import type { SessionRecord } from "../sessions/record.ts";
import { cachedSessionKeyOf } from "../sessions/session-key.ts";
import type { ConcurrencyLimiter } from "./concurrency.ts";
import { deviceChanges, loadUserAgentParser, rawDevice, type RawDevice } from "./device.ts";
import { effectiveProtections, NO_PROTECTIONS, type ActiveMode, type EffectiveProtections } from "./effective.ts";
import type { EndRequester } from "./end-requests.ts";
import type { ProtectionEvents } from "./events.ts";
import type { Geo } from "./geo.ts";
import { identityKey, type LocationHistory } from "./locations.ts";
import { networkLabel } from "./network.ts";
import { impossibleFrom, newCountry } from "./travel.ts";

export interface GuardDeps {
  namespace: string;
  pod: string;
  geo: Geo;
  locations: LocationHistory;
  limiter: ConcurrencyLimiter;
  endRequester: EndRequester;
  events: ProtectionEvents;
  /** End this sidecar's copy of sessions (store) and reset their flows (connection table). */
  endLocally: (sessions: { key?: string; ids: ReadonlySet<string>; spare?: Socket }, code: EnforceableCode, now: number) => void;
  /** Trusted-ingress headers carrying the client certificate (hash) and JA4, lower-case ("" = none). */
  certHeader: string;
  ja4Header: string;
  isTrustedPeer: (peer: string) => boolean;
  /** Clock for travel and findings (tests control it). */
  now: () => number;
  log: Logger;
  /**
   * Per-session states kept (bounded LRU; an evicted state is rebuilt on the session's next request): app.ts gives
   * the session cache's size. lru-cache allocates its index arrays for `max` up front, so this is never a fixed large
   * count (100,000 was 2.7 MB of heap in every sidecar, docs/decisions/perf-0004).
   */
  maxSessions?: number;
}

interface State {
  /** Last client address the network binding accepted (or reported). */
  netIp: string;
  /** Last client address geolocated. */
  geoIp: string;
  /** Raw device of the last request the device binding accepted (or reported). */
  device: RawDevice | undefined;
  /** Policies whose concurrency limit admitted this session here. */
  limited: Set<string>;
  /** Evidence already reported in Audit (no flood of identical findings). */
  reported: Set<string>;
}

export interface CheckInput {
  session: SessionRecord;
  principal: Principal;
  req: IncomingMessage;
  clientIp: string;
  selected: readonly CompiledPolicy[];
  timeouts: { absoluteTimeoutMs: number };
}

export class ProtectionGuard {
  readonly #d: GuardDeps;
  readonly #states: LRUCache<string, State>;
  #of: readonly CompiledPolicy[] | undefined;
  #effective: EffectiveProtections = NO_PROTECTIONS;

  constructor(deps: GuardDeps) {
    this.#d = deps;
    this.#states = new LRUCache({ max: deps.maxSessions ?? cachedLogins() });
  }

  effective(selected: readonly CompiledPolicy[]): EffectiveProtections {
    if (selected !== this.#of) {
      this.#effective = effectiveProtections(selected);
      this.#of = selected;
    }
    return this.#effective;
  }

  /** Throws the finding's SidecarError in Enforce; resolves when the request may go on. */
  async check(input: CheckInput): Promise<void> {
    const eff = this.effective(input.selected);
    if (!eff.any && !this.#d.geo.hasCity) return;
    const { session } = input;
    let state = this.#states.get(session.id);
    if (state === undefined) {
      state = { netIp: session.firstIp, geoIp: "", device: undefined, limited: new Set(), reported: new Set() };
      this.#states.set(session.id, state);
    }
    if (eff.network !== undefined && input.clientIp !== state.netIp) this.#network(input, eff.network, state);
    if (eff.device !== undefined) {
      await loadUserAgentParser();
      this.#device(input, eff.device, state);
    }
    if (input.clientIp !== state.geoIp && (this.#d.geo.hasCity || this.#d.geo.hasAsn)) await this.#geo(input, eff, state);
    for (const limit of eff.concurrent) {
      if (!state.limited.has(limit.policy)) await this.#limit(input, limit, state);
    }
  }

  #network(input: CheckInput, net: NonNullable<EffectiveProtections["network"]>, state: State): void {
    const asnOf = (ip: string): number | undefined => this.#d.geo.asn(ip)?.asn;
    const bound = networkLabel(input.session.firstIp, net, asnOf);
    const observed = networkLabel(input.clientIp, net, asnOf);
    if (bound !== observed) this.#found(input, net, { kind: "network", granularity: net.granularity, bound, observed }, state);
    state.netIp = input.clientIp;
  }

  #device(input: CheckInput, dev: NonNullable<EffectiveProtections["device"]>, state: State): void {
    const peer = input.req.socket.remoteAddress ?? "";
    const trusted = this.#d.isTrustedPeer(peer) ? { certHeader: this.#d.certHeader, ja4Header: this.#d.ja4Header } : undefined;
    const seen = rawDevice(input.req.headers, trusted);
    if (state.device !== undefined && sameRaw(state.device, seen)) return;
    const d = input.session.device ?? {};
    const bound: RawDevice = {
      userAgent: input.session.userAgent,
      platform: d.platform ?? "",
      acceptLanguage: d.acceptLanguage ?? "",
      clientCert: d.clientCert ?? "",
      ja4: d.ja4 ?? "",
    };
    const changed = deviceChanges(bound, seen, dev.components);
    if (changed.length > 0) this.#found(input, dev, { kind: "device", changed }, state);
    state.device = seen;
  }

  async #geo(input: CheckInput, eff: EffectiveProtections, state: State): Promise<void> {
    const { geo, events, namespace, pod } = this.#d;
    const now = this.#d.now();
    state.geoIp = input.clientIp;
    const location = geo.location(input.clientIp);
    if (location !== undefined) events.located({ sessionId: input.session.id, namespace, pod, time: now, location });
    const travel = eff.travel;
    const place = travel === undefined ? undefined : geo.place(input.clientIp, now);
    if (travel === undefined || place === undefined) return;
    const identity = identityKey(input.principal.issuer, input.principal.subject);
    let history;
    try {
      history = await this.#d.locations.read(identity);
      await this.#d.locations.append(identity, history, place);
    } catch (err) {
      state.geoIp = "";
      this.#d.log.warn(
        { event: "protect.locations_unavailable", err: err instanceof Error ? err.message : String(err) },
        "recent locations could not be read or written; travel not checked",
      );
      return;
    }
    const country = newCountry(history, place);
    if (country !== undefined) this.#report(input, { mode: "Audit", policy: travel.policy }, FINDING_CODES.SESSION_NEW_COUNTRY, country, state);
    const impossible = impossibleFrom(history, place, travel);
    if (impossible !== undefined) this.#found(input, travel, impossible, state);
  }

  async #limit(input: CheckInput, limit: EffectiveProtections["concurrent"][number], state: State): Promise<void> {
    const { session, principal } = input;
    const now = this.#d.now();
    let admission;
    try {
      admission = await this.#d.limiter.admit({
        limit,
        identity: identityKey(principal.issuer, principal.subject),
        session,
        now,
        ttlMs: input.timeouts.absoluteTimeoutMs,
        enforce: limit.mode === "Enforce",
      });
    } catch (err) {
      this.#d.log.warn(
        { event: "protect.limits_unavailable", err: err instanceof Error ? err.message : String(err) },
        "session limit could not be checked; will retry",
      );
      return;
    }
    state.limited.add(limit.policy);
    if (admission.toEnd.length === 0) return;
    const evidence: FindingEvidence = {
      kind: "limit",
      limit: limit.maxSessions,
      live: admission.live,
      onExceed: limit.onExceed,
      ended: limit.mode === "Enforce" ? admission.toEnd : [],
    };
    if (limit.mode === "Audit" || admission.toEnd.includes(session.id)) {
      this.#found(input, limit, evidence, state);
      return;
    }
    // EndOldest: the others end, this session is admitted.
    this.#report(input, limit, FINDING_CODES.SESSION_LIMIT_EXCEEDED, evidence, state);
    this.#endEverywhere(new Set(admission.toEnd), undefined, FINDING_CODES.SESSION_LIMIT_EXCEEDED, now);
  }

  /** A finding of an enforceable protection: recorded (Audit) or refused and ended (Enforce). */
  #found(input: CheckInput, active: ActiveMode, evidence: FindingEvidence, state: State): void {
    const code = CODE_OF[evidence.kind];
    if (code === undefined) return;
    this.#report(input, active, code, evidence, state);
    if (active.mode !== "Enforce") return;
    const now = this.#d.now();
    this.#endEverywhere(new Set([input.session.id]), cachedSessionKeyOf(input.principal), code, now, input.req.socket);
    this.#states.delete(input.session.id);
    throw new SidecarError(code, REFUSALS[code]);
  }

  #report(input: CheckInput, active: ActiveMode, code: SessionFinding["code"], evidence: FindingEvidence, state: State): void {
    const signature = `${code}|${JSON.stringify(evidence.kind === "travel" ? [evidence.from.country, evidence.to.country, evidence.to.city] : evidence)}`;
    if (active.mode === "Audit") {
      if (state.reported.has(signature)) return;
      if (state.reported.size < 64) state.reported.add(signature);
    }
    const finding: SessionFinding = {
      v: 1,
      code,
      sessionId: input.session.id,
      namespace: this.#d.namespace,
      pod: this.#d.pod,
      time: this.#d.now(),
      mode: active.mode,
      outcome: active.mode === "Enforce" && code !== FINDING_CODES.SESSION_NEW_COUNTRY ? "refused" : "recorded",
      policy: active.policy,
      evidence,
    };
    this.#d.events.finding(finding);
  }

  /** `spare`: the socket carrying the refusal (it must still get its answer; its next request is refused anyway). */
  #endEverywhere(ids: Set<string>, key: string | undefined, code: EnforceableCode, now: number, spare?: Socket): void {
    this.#d.endLocally({ ids, ...(key === undefined ? {} : { key }), ...(spare === undefined ? {} : { spare }) }, code, now);
    for (const sessionId of ids) {
      this.#d.endRequester.request({ v: 1, sessionId, code, namespace: this.#d.namespace, pod: this.#d.pod, time: now }).catch((err: unknown) => {
        this.#d.log.warn(
          { event: "protect.end_request_failed", code, err: err instanceof Error ? err.message : String(err) },
          "could not ask the operator to end the session everywhere",
        );
      });
    }
  }
}

const CODE_OF: Partial<Record<FindingEvidence["kind"], EnforceableCode>> = {
  network: FINDING_CODES.SESSION_NETWORK_CHANGED,
  device: FINDING_CODES.SESSION_DEVICE_CHANGED,
  travel: FINDING_CODES.SESSION_IMPOSSIBLE_TRAVEL,
  limit: FINDING_CODES.SESSION_LIMIT_EXCEEDED,
};

const REFUSALS: Record<EnforceableCode, string> = {
  SESSION_NETWORK_CHANGED: "This session was used from another network than the one it started from, so it was ended; sign in again.",
  SESSION_DEVICE_CHANGED: "This session was used from another device than the one it started on, so it was ended; sign in again.",
  SESSION_IMPOSSIBLE_TRAVEL: "This session's sign-in locations imply impossible travel, so it was ended; sign in again.",
  SESSION_LIMIT_EXCEEDED: "You already have as many live sessions as allowed here; end another session first.",
};

function sameRaw(a: RawDevice, b: RawDevice): boolean {
  return a.userAgent === b.userAgent && a.platform === b.platform && a.acceptLanguage === b.acceptLanguage && a.clientCert === b.clientCert && a.ja4 === b.ja4;
}
