/**
 * Assembles one running sidecar from its configuration and mounted files: Redis connections, the bus client
 * (snapshot + tail), the local policy view, the session store, the admission gate, the proxy and admin servers,
 * heartbeats, acknowledgements and the expiry sweep. `stop()` drains and closes everything it started.
 *
 * Bus events drive enforcement: a policy change re-evaluates every long-lived flow and closes the ones now
 * denied; a termination (as an event, or found in a snapshot after a gap) RSTs the matching flows, ends the
 * matching sessions, drops their cached token verifications, and is acknowledged with the counts.
 */
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { BusClient } from "../operator/api/bus-client.ts";
import type { Revocation } from "../operator/api/bus.ts";
import { createBusRedis } from "../operator/api/bus-redis.ts";
import { createAdminServer } from "./admin.ts";
import type { IssuerConfig } from "./auth/issuer-config.ts";
import type { Decision } from "./auth/types.ts";
import { createTokenVerifier } from "./auth/jwt.ts";
import type { SidecarConfig } from "./config.ts";
import { createGate } from "./gate.ts";
import { createMetrics } from "./metrics.ts";
import { PolicyView } from "./policy/view.ts";
import { clientIp, trustedProxies } from "./proxy/client-ip.ts";
import { inList } from "./proxy/ip.ts";
import { createSidecarServer } from "./proxy/server.ts";
import { ConnectionTable } from "./sessions/connections.ts";
import type { KeyRing } from "./sessions/crypto.ts";
import { matchesSelector } from "./sessions/selector-match.ts";
import { strictestTimeouts } from "./sessions/record.ts";
import { newSessionId } from "./sessions/session-id.ts";
import { SessionStore } from "./sessions/store.ts";
import { createTerminator } from "./sessions/terminator.ts";

export interface SidecarInputs {
  config: SidecarConfig;
  labels: Record<string, string>;
  issuers: IssuerConfig[];
  keyRing: KeyRing;
  logger: Logger;
}

export interface RunningSidecar {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  stop(): Promise<void>;
}

export async function startSidecar({ config, labels, issuers, keyRing, logger }: SidecarInputs): Promise<RunningSidecar> {
  const now = Date.now;
  const redis = createBusRedis({ url: config.redisUrl, connectionName: `vigil-sidecar-${config.podName}` });
  const bus = new BusClient({ redis: redis.commands, blocking: redis.blocking, prefix: config.busPrefix });
  const view = new PolicyView({ namespace: config.podNamespace, labels });
  const connections = new ConnectionTable();
  const terminator = createTerminator({ connections, namespace: config.podNamespace, logger });
  const verifier = createTokenVerifier(issuers);
  const store = new SessionStore({
    redis: redis.commands,
    prefix: config.busPrefix,
    sealer: keyRing,
    newId: newSessionId,
    onFlushError: (err) => { logger.warn({ event: "session.flush_failed", err: (err as Error).message }, "session write-behind failed; will retry"); },
  });
  const trusted = trustedProxies(config.trustedProxies);
  const defaultTimeouts = { idleTimeoutMs: config.defaultIdleTimeoutSeconds * 1000, absoluteTimeoutMs: config.defaultAbsoluteTimeoutSeconds * 1000 };
  const gate = createGate({
    verifier,
    view,
    store,
    credentials: { cookie: config.tokenCookie, header: config.tokenHeader.toLowerCase() },
    isTrustedPeer: lastValueMemo((peer) => inList(trusted, peer)),
    workload: `${config.podNamespace}/${config.podName}`,
    defaultAction: config.defaultAction,
    defaultTimeouts,
    maxStalenessMs: config.maxStalenessSeconds * 1000,
    lastContactAt: () => bus.lastContactAt,
    now,
  });
  const metrics = createMetrics({
    liveConnections: () => connections.size,
    liveSessions: () => connections.sessionCount,
    busStalenessSeconds: () => (bus.lastContactAt === null ? -1 : (now() - bus.lastContactAt) / 1000),
    appliedRevision: () => view.revision,
    invalidBusMessages: () => bus.invalidMessages,
  });

  const acked = new Set<string>();
  const applyRevocation = async (revocation: Revocation): Promise<void> => {
    const result = terminator.apply(revocation);
    if (!result.applied || acked.has(revocation.id)) return;
    const ended = store.endWhere((r) => matchesSelector({ sessionId: r.id, principal: r }, revocation.selector), "terminated");
    verifier.invalidateWhere((p) => matchesSelector({ sessionId: "", principal: p }, revocation.selector));
    metrics.terminationsApplied.inc();
    metrics.connectionsClosed.inc({ reason: "terminated" }, result.connections);
    await store.flush();
    await bus.ack({
      v: 1,
      terminationId: revocation.id,
      pod: config.podName,
      namespace: config.podNamespace,
      sessionsTerminated: Math.max(result.sessions, ended.length),
      connectionsClosed: result.connections,
      at: now(),
    });
    acked.add(revocation.id);
  };
  const reevaluate = (): void => {
    const closed = connections.reevaluate((flow) => gate.stillAllowed(flow));
    if (closed.connections > 0) {
      metrics.connectionsClosed.inc({ reason: "policy" }, closed.connections);
      logger.info({ event: "policy.flows_closed", connections: closed.connections, sessions: closed.sessions, revision: view.revision }, "closed flows the new policy denies");
    }
  };
  const onChange = async (change: { policiesChanged: boolean; newRevocations: Revocation[] }): Promise<void> => {
    if (change.policiesChanged) reevaluate();
    for (const r of change.newRevocations) await applyRevocation(r);
  };

  const abort = new AbortController();
  const tailing = bus.tail(
    {
      // A snapshot (start, reconnect, gap) re-applies every revocation in force not yet acknowledged: one whose
      // ack failed is retried here, and one whose event was missed is applied now.
      onSnapshot: (snapshot) => {
        const { policiesChanged } = view.applySnapshot(snapshot);
        return onChange({ policiesChanged, newRevocations: view.revocationsInForce(now()).filter((r) => !acked.has(r.id)) });
      },
      onEvent: (event) => onChange(view.applyEvent(event)),
      onIssue: (issue) => { logger.warn({ event: `bus.${issue.kind}` }, "policy bus issue"); },
    },
    abort.signal,
  );

  // The first heartbeat goes out at once: a termination created right after start must count this sidecar.
  const beat = (): void => {
    bus
      .heartbeat({ v: 1, pod: config.podName, namespace: config.podNamespace, labels, appliedRevision: view.revision, at: now() })
      .catch(() => undefined); // counted by the bus client; staleness shows in /readyz and metrics
  };
  beat();
  const heartbeat = setInterval(beat, config.heartbeatIntervalMs);
  const sweep = setInterval(() => {
    const t = now();
    view.prune(t);
    for (const id of acked) if (!view.hasRevocation(id)) acked.delete(id);
    const { idleTimeoutMs, absoluteTimeoutMs } = strictestTimeouts(view.selected, defaultTimeouts);
    const expired = connections.expire(t, () => ({ idleMs: idleTimeoutMs, absoluteMs: absoluteTimeoutMs }));
    if (expired.connections > 0) metrics.connectionsClosed.inc({ reason: "expired" }, expired.connections);
  }, 1000);

  // Decision counters by label set, created on first use (label hashing is not repeated per request).
  const decisionCounters = new Map<string, { inc(): void }>();
  const countDecision = (decision: Decision): void => {
    const code = decision.allowed ? "ALLOWED" : decision.code;
    let counter = decisionCounters.get(code);
    if (counter === undefined) {
      counter = metrics.decisions.labels({ result: decision.allowed ? "allow" : "deny", code });
      decisionCounters.set(code, counter);
    }
    counter.inc();
  };
  // Without X-Forwarded-For the answer depends on the peer alone: keep the last one (keep-alive clients repeat it).
  const peerOnlyClientIp = lastValueMemo((peer) => clientIp(peer, undefined, trusted));

  const proxy = createSidecarServer({
    upstream: { host: "127.0.0.1", port: config.upstreamPort },
    authenticate: async (req, ctx) => {
      const started = performance.now();
      try {
        return await gate.authenticate(req, ctx);
      } finally {
        metrics.decisionSeconds.observe((performance.now() - started) / 1000);
      }
    },
    authorizeRequest: (principal, facts) => {
      const decision = gate.authorizeRequest(principal, facts);
      countDecision(decision);
      return decision;
    },
    connections,
    logger,
    timeouts: {
      headersMs: config.headersTimeoutMs,
      requestMs: config.requestTimeoutMs,
      keepAliveMs: config.keepAliveTimeoutMs,
      upstreamMs: config.upstreamTimeoutMs,
    },
    resolveClientIp: (peer, xff) => (xff === undefined ? peerOnlyClientIp(peer) : clientIp(peer, xff, trusted)),
    forbiddenTunnelPorts: [config.adminPort, config.listenPort],
  });
  const admin = createAdminServer(metrics.registry, () => view.loaded && bus.lastContactAt !== null && now() - bus.lastContactAt <= config.maxStalenessSeconds * 1000);
  const proxyAddress = await proxy.listen(config.listenPort, config.listenHost);
  const adminAddress = await new Promise<AddressInfo>((resolve) => {
    admin.listen(config.adminPort, config.listenHost, () => { resolve(admin.address() as AddressInfo); });
  });
  store.start();
  logger.info({ event: "started", proxyPort: proxyAddress.port, adminPort: adminAddress.port, upstreamPort: config.upstreamPort }, "vigil-sidecar started");

  return {
    proxyAddress,
    adminAddress,
    async stop() {
      clearInterval(heartbeat);
      clearInterval(sweep);
      abort.abort();
      await proxy.close();
      await new Promise((r) => admin.close(r));
      await tailing;
      await store.stop().catch(() => undefined);
      await redis.close();
    },
  };
}

/** A pure string function with a one-entry memo (the last argument and its answer). */
function lastValueMemo<T>(fn: (arg: string) => T): (arg: string) => T {
  let lastArg: string | undefined;
  let lastValue: T | undefined;
  return (arg) => {
    if (arg !== lastArg || lastValue === undefined) {
      lastValue = fn(arg);
      lastArg = arg;
    }
    return lastValue;
  };
}
