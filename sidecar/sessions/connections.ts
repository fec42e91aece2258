/**
 * The live connection table: every client socket that carries an authenticated flow, with the
 * session it belongs to, and the upstream socket(s) serving it.
 *
 * Contract:
 * - One entry per client socket. `kind` is `http` for keep-alive HTTP sockets (bound to the
 *   session of their latest request; in-flight requests, e.g. streaming downloads, are tracked
 *   with their own session and upstream socket), `websocket` and `tunnel` for upgraded / CONNECT
 *   sockets (client and upstream linked: when one closes the other is closed).
 * - Entries disappear on their own when the client socket closes.
 * - `terminate`, `reevaluate` and `expire` destroy BOTH sides of every matching flow with a TCP
 *   RST (`socket.resetAndDestroy()`), and return exact counts: `connections` = client sockets
 *   closed, `sessions` = distinct session IDs among the flows that matched.
 * - A pooled upstream socket is reset only while it serves a request of a matching flow (an
 *   ownership check), never after it went back to the keep-alive pool for someone else.
 * - Nothing here throws for socket state: sockets already gone are skipped.
 * - Flows are reported to an optional `observer` (the audit, sidecar/audit/): WebSockets and tunnels when they
 *   open; keep-alive HTTP sockets once they lived `longLivedAfterMs` (at the next `report(now)`, the sweep), as
 *   kind `stream` when a request on them has been in flight that long; byte counters (the client socket's
 *   `bytesRead`/`bytesWritten`, read at the sweep and at close, never per chunk) at most every `progressEveryMs`;
 *   and the close, with the reason (Vigil's reset: `Terminated`, `PolicyChanged`, `IdleTimeout`,
 *   `AbsoluteTimeout`, `Shutdown`; else `Closed` or `Error`). Nothing is reported on the request path.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { covers } from "../../operator/api/bus/coverage.ts";
import type { AuditFlowKind, CloseReason } from "../../operator/api/audit/catalogue.ts";
import type { FlowFacts } from "../../operator/api/audit/events.ts";
import type { Revocation } from "../../operator/api/bus/messages.ts";
import type { Principal, RequestFacts } from "../auth/types.ts";
import { Flight, resetSocket, type InFlight, type RequestHandle } from "./flight.ts";
import { coveredIdentity } from "./session-key.ts";

export type { RequestHandle };

export type ConnectionKind = "http" | "websocket" | "tunnel";

/** Who a flow belongs to and what it asked for. */
export interface FlowBinding {
  sessionId: string;
  principal: Principal;
  facts: RequestFacts;
  clientIp: string;
  /** What the flow reaches: `METHOD /path` for HTTP and WebSocket, `host:port` for tunnels. */
  target: string;
  /** Epoch ms the session started (from the session registry); defaults to the flow's open time. */
  sessionStartedAt?: number;
}

/** What `reevaluate` and `expire` callbacks see. */
export interface LiveFlow extends FlowBinding {
  connectionId: string;
  kind: ConnectionKind;
}

/** A read-only snapshot of one entry (for the sessions API, metrics and tests). */
export interface ConnectionInfo {
  id: string;
  kind: ConnectionKind;
  sessionId: string;
  issuer: string;
  subject: string;
  email?: string;
  groups: readonly string[];
  openedAt: number;
  lastActivityAt: number;
  clientIp: string;
  target: string;
  /** HTTP requests currently being served on this socket (0 for other kinds). */
  inFlight: number;
}

export interface CloseCounts {
  sessions: number;
  connections: number;
}

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

export interface ExpiryResult extends CloseCounts {
  expired: { sessionId: string; reason: "idle" | "absolute" }[];
}

/** Where flows are reported (sidecar/audit/flows.ts): called from the sweep and from socket close listeners. */
export interface FlowObserver {
  opened(binding: FlowBinding, flow: FlowFacts, now: number): void;
  progressed(binding: FlowBinding, flow: FlowFacts, now: number): void;
  closed(binding: FlowBinding, flow: FlowFacts, reason: CloseReason, now: number): void;
}

const ignoreError = (): void => undefined;

interface Entry {
  id: string;
  kind: ConnectionKind;
  client: Socket;
  upstream: Socket | null;
  current: FlowBinding;
  openedAt: number;
  lastActivityAt: number;
  requests: Set<InFlight>;
  /** The binding this flow was reported for (null: not reported, or its close was reported). */
  reported: FlowBinding | null;
  reportedKind: AuditFlowKind;
  /** Set when Vigil closes the flow. */
  closeReason: CloseReason | null;
  progressAt: number;
  progressIn: number;
  progressOut: number;
}

export interface ConnectionTableOptions {
  /** Clock (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** After a linked socket closes cleanly, the other side gets this long to flush before it is destroyed. */
  linkedCloseGraceMs?: number;
  /** Where flows are reported (see the file comment). */
  observer?: FlowObserver;
  /** The application's port (the target port of HTTP and WebSocket flows). */
  appPort?: number;
  /** A keep-alive HTTP socket (or a request on it) becomes a reported flow once it lived this long. Default 1000 ms. */
  longLivedAfterMs?: number;
  /** Byte counters of a reported flow are reported at most this often. Default 5000 ms. */
  progressEveryMs?: number;
}

export class ConnectionTable {
  readonly #entries = new Map<Socket, Entry>();
  /** Which in-flight request currently owns a pooled upstream socket. */
  readonly #owners = new WeakMap<Socket, InFlight>();
  /** Upstream sides of flows being reset (#closeWhere), until their reset. */
  readonly #resetting = new WeakSet<Socket>();
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #observer: FlowObserver | undefined;
  readonly #appPort: number;
  readonly #longLivedMs: number;
  readonly #progressMs: number;
  #lastResetAt = Number.NaN;

  constructor(opts: ConnectionTableOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#graceMs = opts.linkedCloseGraceMs ?? 5_000;
    this.#observer = opts.observer;
    this.#appPort = opts.appPort ?? 0;
    this.#longLivedMs = opts.longLivedAfterMs ?? 1_000;
    this.#progressMs = opts.progressEveryMs ?? 5_000;
  }

  /** Live client sockets. */
  get size(): number {
    return this.#entries.size;
  }

  /** `performance.now()` when the last reset pass had reset every socket it closes (NaN before the first). */
  get lastResetAt(): number {
    return this.#lastResetAt;
  }

  /** Distinct sessions with at least one live client socket. */
  get sessionCount(): number {
    const ids = new Set<string>();
    for (const e of this.#entries.values()) ids.add(e.current.sessionId);
    return ids.size;
  }

  list(): ConnectionInfo[] {
    return [...this.#entries.values()].map((e) => this.#info(e));
  }

  /**
   * Start tracking an HTTP request on a (keep-alive) client socket: the socket now belongs to this
   * request's session until its next request, and is reset with that session.
   */
  beginRequest(client: Socket, binding: FlowBinding): RequestHandle {
    const now = this.#now();
    let entry = this.#entries.get(client);
    if (entry?.kind !== "http") {
      entry = this.#add("http", client, null, binding, now);
    }
    entry.current = binding;
    entry.lastActivityAt = now;
    const flight = new Flight(binding, entry, this.#owners, this.#now);
    entry.requests.add(flight);
    return flight;
  }

  /** Track a WebSocket or CONNECT tunnel: both sockets are linked and belong to `binding`'s session. */
  openFlow(kind: "websocket" | "tunnel", client: Socket, upstream: Socket, binding: FlowBinding): string {
    const now = this.#now();
    const entry = this.#add(kind, client, upstream, binding, now);
    if (this.#observer !== undefined) this.#open(entry, binding, kind, now);
    const touch = (): void => {
      entry.lastActivityAt = this.#now();
    };
    client.on("data", touch);
    upstream.on("data", touch);
    upstream.on("error", ignoreError);
    this.#link(client, upstream);
    this.#link(upstream, client);
    return entry.id;
  }

  /**
   * RST every flow the revocation covers at `now` (both sides; the rule is operator/api/bus/coverage.ts). The answer is
   * kept for the last principal and session seen: the flows of one login share their principal object, so 1,000
   * tunnels of one session cost one coverage check, and the scan allocates nothing per flow.
   */
  terminate(revocation: Revocation, now: number): CloseCounts {
    let principal: Principal | undefined;
    let sessionId = "";
    let answer = false;
    return this.#closeWhere((b) => {
      if (b.principal !== principal || b.sessionId !== sessionId) {
        principal = b.principal;
        sessionId = b.sessionId;
        answer = covers(revocation, coveredIdentity(b.principal, b.sessionId), b.principal.issuedAt * 1000, now);
      }
      return answer;
    }, "Terminated");
  }

  /**
   * RST every flow of these sessions (both sides): a session protection ended them. `spare` (the keep-alive socket
   * whose request is being refused) is left to carry its refusal; its next request is refused with the session.
   */
  terminateSessions(sessionIds: ReadonlySet<string>, spare?: Socket): CloseCounts {
    return this.#closeWhere((b) => sessionIds.has(b.sessionId), "Terminated", { spare });
  }

  /**
   * Re-check long-lived flows (WebSockets, tunnels, in-flight HTTP requests) against the current
   * policy; RST the ones `stillAllowed` refuses. Idle keep-alive sockets are left alone: their next
   * request is authorized anyway.
   */
  reevaluate(stillAllowed: (flow: LiveFlow) => boolean): CloseCounts {
    return this.#closeWhere((b, e) => !stillAllowed(this.#flow(e, b)), "PolicyChanged", { inFlightOnly: true });
  }

  /**
   * Close the sessions whose idle or absolute timeout has passed at `now`. Idle time is measured
   * from the latest activity on any of the session's sockets (a socket serving a request counts as
   * active); absolute time from `sessionStartedAt` (else the earliest open time seen).
   */
  expire(now: number, limitsFor: (flow: LiveFlow) => SessionLimits | undefined): ExpiryResult {
    const bySession = new Map<string, Entry[]>();
    for (const e of this.#entries.values()) {
      const list = bySession.get(e.current.sessionId);
      if (list === undefined) bySession.set(e.current.sessionId, [e]);
      else list.push(e);
    }
    const expired: ExpiryResult["expired"] = [];
    const doomed: Entry[] = [];
    for (const [sessionId, entries] of bySession) {
      const first = entries[0];
      if (first === undefined) continue;
      const limits = limitsFor(this.#flow(first, first.current));
      if (limits === undefined) continue;
      const reason = expiryReason(entries, now, limits);
      if (reason === undefined) continue;
      expired.push({ sessionId, reason });
      for (const e of entries) {
        e.closeReason = reason === "idle" ? "IdleTimeout" : "AbsoluteTimeout";
        doomed.push(e);
      }
    }
    this.#killAll(doomed);
    return { sessions: expired.length, connections: doomed.length, expired };
  }

  /** RST everything (shutdown). */
  closeAll(): CloseCounts {
    return this.#closeWhere(() => true, "Shutdown");
  }

  /** Session ids with at least one live client socket. */
  liveSessionIds(): Set<string> {
    const ids = new Set<string>();
    for (const e of this.#entries.values()) ids.add(e.current.sessionId);
    return ids;
  }

  /**
   * The sweep's reporting pass (see the file comment): keep-alive HTTP sockets that became long-lived are reported
   * opened, flows rebound to another session are closed and reopened, byte counters that moved are reported.
   */
  report(now: number): void {
    if (this.#observer === undefined) return;
    for (const e of this.#entries.values()) {
      const reported = e.reported;
      if (reported === null) {
        if (e.kind === "http" && now - e.openedAt >= this.#longLivedMs) this.#open(e, e.current, this.#httpKind(e, now), now);
        continue;
      }
      if (reported.sessionId !== e.current.sessionId) {
        this.#observer.closed(reported, this.#facts(e, reported), "Rebound", now);
        this.#open(e, e.current, this.#httpKind(e, now), now);
        continue;
      }
      if (now - e.progressAt < this.#progressMs) continue;
      const { bytesRead, bytesWritten } = e.client;
      if (bytesRead === e.progressIn && bytesWritten === e.progressOut) continue;
      e.progressAt = now;
      e.progressIn = bytesRead;
      e.progressOut = bytesWritten;
      this.#observer.progressed(reported, this.#facts(e, reported), now);
    }
  }

  #add(kind: ConnectionKind, client: Socket, upstream: Socket | null, binding: FlowBinding, now: number): Entry {
    const previous = this.#entries.get(client);
    if (previous !== undefined) this.#entries.delete(client);
    const entry: Entry = {
      id: `c_${randomUUID()}`,
      kind,
      client,
      upstream,
      current: binding,
      openedAt: now,
      lastActivityAt: now,
      requests: new Set(),
      reported: null,
      reportedKind: kind === "http" ? "http" : kind,
      closeReason: null,
      progressAt: now,
      progressIn: 0,
      progressOut: 0,
    };
    if (previous?.reported != null) this.#reportClosed(previous, "Rebound");
    this.#entries.set(client, entry);
    client.on("error", ignoreError);
    client.once("close", (hadError: boolean) => {
      if (this.#entries.get(client) === entry) this.#entries.delete(client);
      if (entry.reported !== null) this.#reportClosed(entry, entry.closeReason ?? (hadError ? "Error" : "Closed"));
    });
    return entry;
  }

  #open(e: Entry, binding: FlowBinding, kind: AuditFlowKind, now: number): void {
    e.reported = binding;
    e.reportedKind = kind;
    e.progressAt = now;
    e.progressIn = e.client.bytesRead;
    e.progressOut = e.client.bytesWritten;
    this.#observer?.opened(binding, this.#facts(e, binding), now);
  }

  #reportClosed(e: Entry, reason: CloseReason): void {
    const binding = e.reported;
    if (binding === null) return;
    e.reported = null;
    this.#observer?.closed(binding, this.#facts(e, binding), reason, this.#now());
  }

  /** `stream` when a request on the socket has been in flight for the long-lived threshold, else `http`. */
  #httpKind(e: Entry, now: number): AuditFlowKind {
    if (e.kind !== "http") return e.kind;
    for (const r of e.requests) if (now - r.startedAt >= this.#longLivedMs) return "stream";
    return "http";
  }

  #facts(e: Entry, binding: FlowBinding): FlowFacts {
    const { client } = e;
    const peer =
      client.remoteAddress === binding.clientIp && client.remotePort !== undefined ? joinHostPort(binding.clientIp, client.remotePort) : binding.clientIp;
    return {
      id: e.id,
      kind: e.reportedKind,
      peer: peer === "" ? "unknown" : peer,
      port: e.kind === "tunnel" ? (binding.facts.port ?? 0) : this.#appPort,
      openedAt: e.openedAt,
      bytesIn: client.bytesRead,
      bytesOut: client.bytesWritten,
    };
  }

  /** When `a` closes: after an error destroy `b` at once, else end it and destroy it after a grace period. */
  #link(a: Socket, b: Socket): void {
    a.once("close", (hadError: boolean) => {
      if (b.destroyed || this.#resetting.has(b)) return; // `b` is being reset with its flow (#closeWhere)
      if (hadError) {
        b.destroy();
        return;
      }
      b.end();
      b.setTimeout(this.#graceMs, () => b.destroy());
    });
  }

  /**
   * RST every flow with a binding `hit` accepts (see #killAll): its current binding (not for a keep-alive HTTP socket
   * when `inFlightOnly`: only its in-flight requests count then) or one of its in-flight requests'.
   */
  #closeWhere(hit: (b: FlowBinding, e: Entry) => boolean, reason: CloseReason, opts: { spare?: Socket | undefined; inFlightOnly?: boolean } = {}): CloseCounts {
    const sessions = new Set<string>();
    const victims: Entry[] = [];
    for (const e of this.#entries.values()) {
      if (e.client === opts.spare) continue;
      let matched = false;
      if (!(opts.inFlightOnly === true && e.kind === "http") && hit(e.current, e)) {
        sessions.add(e.current.sessionId);
        matched = true;
      }
      for (const r of e.requests) {
        if (!hit(r.binding, e)) continue;
        sessions.add(r.binding.sessionId);
        matched = true;
      }
      if (matched) victims.push(e);
    }
    for (const e of victims) e.closeReason = reason;
    this.#killAll(victims);
    return { sessions: sessions.size, connections: victims.length };
  }

  /**
   * RST these flows, each with its `closeReason`, in this order (docs/decisions/perf-0006-termination-burst.md):
   * 1. the users' side, in one tight pass that does nothing else: every client socket;
   * 2. the pooled upstream socket of each in-flight request (still synchronously: the request's teardown, which would
   *    close it cleanly, only runs on the client's `close`, which is emitted later);
   * 3. bookkeeping: entries removed, the application sides of tunnels and WebSockets marked (so the link between the
   *    two sides does not close them cleanly until their reset);
   * 4. each flow's close reported (before a session end that follows; the counters are final);
   * 5. the application sides reset in a `setImmediate` (after the audit flush those reports may have scheduled: the
   *    users' side is what the latency is about, and the application's 1,000 resets compete with it for the CPU).
   * `lastResetAt` is the end of step 2.
   */
  #killAll(victims: readonly Entry[]): void {
    for (const e of victims) resetSocket(e.client);
    for (const e of victims) {
      for (const r of e.requests) if (r.upstream !== null && this.#owners.get(r.upstream) === r) resetSocket(r.upstream);
    }
    if (victims.length > 0) this.#lastResetAt = performance.now();
    const upstreams: Socket[] = [];
    for (const e of victims) {
      this.#entries.delete(e.client);
      const upstream = e.upstream;
      if (upstream === null || upstream.destroyed) continue;
      this.#resetting.add(upstream);
      upstreams.push(upstream);
    }
    for (const e of victims) this.#reportClosed(e, e.closeReason ?? "Closed");
    if (upstreams.length > 0) {
      setImmediate(() => {
        for (const socket of upstreams) {
          this.#resetting.delete(socket);
          resetSocket(socket);
        }
      });
    }
  }

  #flow(e: Entry, binding: FlowBinding): LiveFlow {
    return { ...binding, connectionId: e.id, kind: e.kind };
  }

  #info(e: Entry): ConnectionInfo {
    const p = e.current.principal;
    const info: ConnectionInfo = {
      id: e.id,
      kind: e.kind,
      sessionId: e.current.sessionId,
      issuer: p.issuer,
      subject: p.subject,
      groups: p.groups,
      openedAt: e.openedAt,
      lastActivityAt: e.lastActivityAt,
      clientIp: e.current.clientIp,
      target: e.current.target,
      inFlight: e.requests.size,
    };
    if (p.email !== undefined) info.email = p.email;
    return info;
  }
}

function expiryReason(entries: Entry[], now: number, limits: SessionLimits): "idle" | "absolute" | undefined {
  let started = Number.POSITIVE_INFINITY;
  let active = Number.NEGATIVE_INFINITY;
  for (const e of entries) {
    started = Math.min(started, e.current.sessionStartedAt ?? e.openedAt);
    active = Math.max(active, e.requests.size > 0 ? now : e.lastActivityAt);
  }
  if (now - started >= limits.absoluteMs) return "absolute";
  if (now - active >= limits.idleMs) return "idle";
  return undefined;
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
