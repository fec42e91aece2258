/**
 * What the proxy's handlers share: the injected dependencies, and admission (identity + policy)
 * common to HTTP requests, WebSocket upgrades and CONNECT tunnels.
 *
 * Contract: `admit(ctx, req, kind, facts)` authenticates (`deps.gate.authenticate`, which throws a
 * SidecarError 401 on any identity problem) and authorizes (`deps.gate.authorizeRequest`; a refusing
 * Decision becomes a 403 SidecarError carrying policy and rule). It resolves to everything the
 * flow needs to be forwarded and tracked, or throws; it never writes to the client.
 */
import { createHash } from "node:crypto";
import type { Agent, IncomingMessage } from "node:http";
import type { Logger } from "pino";
import type { Decision, Principal, RequestFacts } from "../auth/types.ts";
import { denialError, SidecarError } from "../errors.ts";
import type { CredentialForwarding } from "./forward-headers.ts";
import type { ConnectionTable, FlowBinding } from "../sessions/connections.ts";

export type FlowKind = "http" | "websocket" | "tunnel";

export interface Authenticated {
  principal: Principal;
  sessionId: string;
  /** Epoch ms the session started, when the session registry knows it. */
  sessionStartedAt?: number;
}

export interface AuthContext {
  kind: FlowKind;
  clientIp: string;
}

export interface SidecarTimeouts {
  /** Time to receive the complete request head (slowloris). */
  headersMs: number;
  /** Time to receive the complete request (head and body). */
  requestMs: number;
  /** Idle keep-alive socket lifetime. */
  keepAliveMs: number;
  /** Upstream inactivity (connect, response head, between body chunks) → 504 UPSTREAM_TIMEOUT. */
  upstreamMs: number;
  /** How often Node checks headersMs/requestMs. Default min(1000, headersMs). */
  checkIntervalMs?: number;
}

/** The one interface through which the proxy reaches the admission gate (sidecar/gate.ts). */
export interface AdmissionGate {
  authenticate(req: IncomingMessage, ctx: AuthContext): Promise<Authenticated>;
  authorizeRequest(principal: Principal, facts: RequestFacts): Decision;
}

export interface SidecarServerDeps {
  upstream: { host: string; port: number };
  gate: AdmissionGate;
  connections: ConnectionTable;
  logger: Logger;
  timeouts: SidecarTimeouts;
  /**
   * The trusted client IP from the socket peer and the X-Forwarded-For value (wire this to
   * `clientIp(peer, xff, trusted)`). Default: the socket peer.
   */
  resolveClientIp?: (peer: string, xff: string | string[] | undefined) => string;
  /** Request-head limit; larger heads get 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Ports CONNECT may never reach, besides the upstream HTTP port (e.g. the admin port). */
  forbiddenTunnelPorts?: readonly number[];
  /**
   * The token cookie and token header (the gate's credential sources) and whether the application receives the
   * request's credentials. Default: none configured, nothing forwarded (`Authorization` is withheld).
   */
  credentials?: CredentialForwarding;
}

export interface ProxyContext {
  deps: SidecarServerDeps;
  agent: Agent;
  log: Logger;
  /** `deps.credentials` with defaults, the header name lower-cased. */
  credentials: CredentialForwarding;
}

export interface Admitted extends Authenticated {
  facts: RequestFacts;
  clientIp: string;
}

export function clientIpOf(ctx: ProxyContext, req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? "";
  const xff = req.headers["x-forwarded-for"];
  return ctx.deps.resolveClientIp === undefined ? peer : ctx.deps.resolveClientIp(peer, xff);
}

/** Lower-case host without port (`[::1]:80` → `::1`); "" when absent. */
export function hostOf(header: string | undefined): string {
  if (header === undefined) return "";
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end === -1 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(":");
  return colon === -1 ? h : h.slice(0, colon);
}

export async function admit(ctx: ProxyContext, req: IncomingMessage, kind: FlowKind, facts: RequestFacts): Promise<Admitted> {
  const authenticated = await ctx.deps.gate.authenticate(req, { kind, clientIp: facts.clientIp });
  const decision = ctx.deps.gate.authorizeRequest(authenticated.principal, facts);
  if (!decision.allowed) throw denialError(decision);
  return { ...authenticated, facts, clientIp: facts.clientIp };
}

export function bindingOf(admitted: Admitted, target: string): FlowBinding {
  const binding: FlowBinding = {
    sessionId: admitted.sessionId,
    principal: admitted.principal,
    facts: admitted.facts,
    clientIp: admitted.clientIp,
    target,
  };
  if (admitted.sessionStartedAt !== undefined) binding.sessionStartedAt = admitted.sessionStartedAt;
  return binding;
}

/** Session IDs are hashed in logs. */
export function sessionLogId(sessionId: string): string {
  return createHash("sha256").update(sessionId).digest("base64url").slice(0, 16);
}

/** One log line for a request dropped because an earlier answer on its connection closed it (connection-turn.ts). */
export function logDropped(ctx: ProxyContext, kind: FlowKind): void {
  ctx.log.info({ event: "dropped", kind }, "request read after a closing answer on the same connection was not handled");
}

/** One log line for a refusal (never a token). */
export function logRefusal(ctx: ProxyContext, kind: FlowKind, err: unknown, sessionId?: string): void {
  if (err instanceof SidecarError) {
    ctx.log.info(
      {
        event: "refused",
        kind,
        code: err.code,
        status: err.status,
        ...(err.policy === undefined ? {} : { policy: err.policy }),
        ...(err.rule === undefined ? {} : { rule: err.rule }),
        ...(sessionId === undefined ? {} : { session: sessionLogId(sessionId) }),
      },
      err.message,
    );
    return;
  }
  // Only the error's name: an unexpected error's message could quote client input.
  const errName = err instanceof Error ? err.name : typeof err;
  ctx.log.error({ event: "refused", kind, code: "INTERNAL", errName }, "unexpected error while admitting a request");
}
