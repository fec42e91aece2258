/**
 * Assembly of one sidecar: wiring only. `buildSidecar(inputs)` creates every part without starting anything
 * (Redis connects lazily); `listen()` starts the proxy and admin servers, the bus subscriber, the session
 * write-behind and the sidecar's two timers (heartbeat, one-second sweep); `stop()` drains and closes everything
 * `listen()` started. Tests and benchmarks build sidecars in-process the same way main.ts does.
 *
 * The rules live elsewhere: admission in gate.ts, what a bus change does in enforcement.ts, the bus protocol in
 * bus/subscriber.ts, the view in policy/view.ts.
 */
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { VerifyingKeys } from "../operator/api/bus/envelope.ts";
import { createBusRedis, type BusRedisConnections } from "../lib/redis.ts";
import { createAdminServer } from "./admin.ts";
import type { IssuerConfig } from "./auth/issuer-config.ts";
import { createTokenVerifier } from "./auth/jwt.ts";
import { BusReporter } from "./bus/reporter.ts";
import { BusSubscriber, type BusIssue } from "./bus/subscriber.ts";
import type { SidecarConfig } from "./config.ts";
import { Enforcement } from "./enforcement.ts";
import { instrumentGate } from "./gate-metrics.ts";
import { createGate } from "./gate.ts";
import { cachedLogins } from "./memory-budget.ts";
import { createMetrics } from "./metrics.ts";
import { PolicyView } from "./policy/view.ts";
import { clientIp, trustedProxies } from "./proxy/client-ip.ts";
import { inList } from "./proxy/ip.ts";
import { createSidecarServer } from "./proxy/server.ts";
import { ConnectionTable } from "./sessions/connections.ts";
import type { KeyRing } from "../lib/sealing.ts";
import { newSessionId } from "./sessions/session-id.ts";
import type { SessionRecord } from "./sessions/record.ts";
import type { Principal } from "./auth/types.ts";
import { AuditReporter } from "./audit/reporter.ts";
import { SidecarAudit } from "./audit/sidecar-audit.ts";
import { correlator } from "../lib/correlation.ts";
import { AUDIT_PURPOSE } from "../operator/api/audit/stream.ts";
import type { AuditWorkload } from "../operator/api/audit/events.ts";
import { busKeys as busKeyNames } from "../operator/api/bus/keys.ts";
import { SessionStore } from "./sessions/store.ts";
import { ConcurrencyLimiter } from "./protect/concurrency.ts";
import { EndRequester } from "./protect/end-requests.ts";
import { fanOut, type ProtectionEvents } from "./protect/events.ts";
import { NO_GEO, type Geo } from "./protect/geo.ts";
import { ProtectionGuard } from "./protect/guard.ts";
import { LocationHistory } from "./protect/locations.ts";

export interface SidecarInputs {
  config: SidecarConfig;
  labels: Record<string, string>;
  issuers: IssuerConfig[];
  keyRing: KeyRing;
  /** The bus verification keys (reloaded by the caller when the mounted ConfigMap changes). */
  busKeys: () => VerifyingKeys;
  logger: Logger;
  /** Geolocation databases (main.ts opens the configured files); default none. */
  geo?: Geo;
  /** Clock of the session protections (impossible travel): tests move it; default Date.now. */
  protectionClock?: () => number;
}

export interface Sidecar {
  readonly view: PolicyView;
  readonly connections: ConnectionTable;
  readonly enforcement: Enforcement;
  readonly subscriber: BusSubscriber;
  listen(): Promise<RunningSidecar>;
  /** Writes the audit events queued so far to the stream now (the timer does every flush interval): a barrier for tests. */
  flushAudit(): Promise<void>;
}

export interface RunningSidecar {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  stop(): Promise<void>;
}

/** When the bus last confirmed this sidecar's view (signed time, capped at now): null until it first has. */
interface Freshness {
  confirmedAt: number | null;
}

type Metrics = ReturnType<typeof createMetrics>;
type Workload = AuditWorkload;

export function buildSidecar(inputs: SidecarInputs): Sidecar {
  const { config, labels, keyRing, logger } = inputs;
  const now = Date.now;
  const redis: BusRedisConnections = createBusRedis({
    url: config.redisUrl,
    connectionName: `vigil-sidecar-${config.podName}`,
    // Concurrent first requests of new sessions each send a script call: one write for all of a turn's (perf-0007).
    autoPipelining: true,
    ...(config.redisSentinelName === "" ? {} : { sentinel: { name: config.redisSentinelName, sentinels: config.redisSentinels } }),
  });
  const workload = {
    namespace: config.podNamespace,
    pod: config.podName,
    ...(config.workloadKind === "" || config.workloadName === "" ? {} : { kind: config.workloadKind, name: config.workloadName }),
  };
  const auditReporter = createAuditReporter(inputs, redis, workload);
  const subscriber = new BusSubscriber({
    redis: redis.commands,
    blocking: redis.blocking,
    prefix: config.busPrefix,
    namespace: config.podNamespace,
    keys: inputs.busKeys,
  });
  const reporter = new BusReporter({ redis: redis.commands, prefix: config.busPrefix });
  const view = new PolicyView({ namespace: config.podNamespace, labels });
  // The audit needs the store (session of a principal) and the store the audit (lifecycle events): one late binding.
  const sessionOf: { fn: (p: Principal) => SessionRecord | undefined } = { fn: () => undefined };
  const audit = new SidecarAudit({ sink: auditReporter, workload, sessionOf: (p) => sessionOf.fn(p), activityIntervalMs: config.auditActivityMs });
  const connections = new ConnectionTable({ observer: audit.flows, appPort: config.upstreamPort, progressEveryMs: config.auditFlowProgressMs });
  const logins = cachedLogins();
  const verifier = createTokenVerifier(inputs.issuers, { cacheMaxEntries: logins });
  const store = new SessionStore({
    maxCachedSessions: logins,
    events: audit.sessionEvents,
    redis: redis.commands,
    prefix: config.busPrefix,
    sealer: keyRing,
    newId: newSessionId,
    onFlushError: (err) => {
      logger.warn({ event: "session.flush_failed", err }, "session write-behind failed; will retry");
    },
  });
  sessionOf.fn = (p) => store.sessionOf(p);
  const freshness: Freshness = { confirmedAt: null };
  const stale = (): boolean => freshness.confirmedAt === null || now() - freshness.confirmedAt > config.maxStalenessSeconds * 1000;
  const metrics = createMetrics({
    liveConnections: () => connections.size,
    liveSessions: () => connections.sessionCount,
    busStalenessSeconds: () => (freshness.confirmedAt === null ? -1 : (now() - freshness.confirmedAt) / 1000),
    appliedRevision: () => view.revision,
    invalidBusMessages: () => subscriber.refused,
    audit: () => auditReporter.stats(),
  });
  const trusted = trustedProxies(config.trustedProxies);
  const isTrustedPeer = lastValueMemo((peer) => inList(trusted, peer));
  const protections = createProtections({ inputs, redis, store, connections, metrics, audit, isTrustedPeer, now, maxSessions: logins });
  const gate = instrumentGate(
    createGate(gateOptions({ config, verifier, view, store, protections, isTrustedPeer, freshness, now })),
    metrics,
    audit.gateObserver,
  );
  const enforcement = new Enforcement({
    pod: config.podName,
    namespace: config.podNamespace,
    view,
    connections,
    store,
    verifier,
    reporter,
    stillAllowed: (flow) => gate.stillAllowed(flow),
    metrics,
    logger,
    defaultTimeouts: defaultTimeoutsOf(config),
    now,
    audit,
  });
  const proxy = createProxy(config, { gate, connections, logger, trusted });
  const admin = createAdminServer(metrics.registry, () => view.loaded && !stale());
  const parts: Parts = { inputs, redis, auditReporter, subscriber, reporter, view, store, enforcement, proxy, admin, freshness, now };
  return { view, connections, enforcement, subscriber, listen: () => listenSidecar(parts), flushAudit: () => auditReporter.flush() };
}

function createAuditReporter({ config, keyRing, logger }: SidecarInputs, redis: BusRedisConnections, workload: Workload): AuditReporter {
  return new AuditReporter({
    redis: redis.commands,
    streamKey: busKeyNames(config.busPrefix).audit,
    sealer: keyRing.for(AUDIT_PURPOSE),
    correlate: correlator(keyRing),
    workload,
    // Audit lines are the log pipeline's copy of the trail: written at info whatever the program's level (but "silent").
    logger: logger.level === "silent" ? logger : logger.child({}, { level: "info" }),
    queueSize: config.auditQueueSize,
    flushMs: config.auditFlushMs,
    streamMaxLength: config.auditStreamMaxLength,
  });
}

const defaultTimeoutsOf = (config: SidecarConfig): { idleTimeoutMs: number; absoluteTimeoutMs: number } => ({
  idleTimeoutMs: config.defaultIdleTimeoutSeconds * 1000,
  absoluteTimeoutMs: config.defaultAbsoluteTimeoutSeconds * 1000,
});

const deviceHeadersOf = (config: SidecarConfig): { certHeader: string; ja4Header: string } => ({
  certHeader: config.clientCertHeader.toLowerCase(),
  ja4Header: config.ja4Header.toLowerCase(),
});

interface ProtectionParts {
  inputs: SidecarInputs;
  redis: BusRedisConnections;
  store: SessionStore;
  connections: ConnectionTable;
  metrics: Metrics;
  audit: SidecarAudit;
  isTrustedPeer: (peer: string) => boolean;
  now: () => number;
  /** Per-session protection states kept: as many as the session cache holds. */
  maxSessions: number;
}

function createProtections({ inputs, redis, store, connections, metrics, audit, isTrustedPeer, now, maxSessions }: ProtectionParts): ProtectionGuard {
  const { config, keyRing, logger, geo = NO_GEO, protectionClock } = inputs;
  const keys = busKeyNames(config.busPrefix);
  return new ProtectionGuard({
    namespace: config.podNamespace,
    pod: config.podName,
    geo,
    locations: new LocationHistory(redis.commands, keys, keyRing.for("locations")),
    limiter: new ConcurrencyLimiter(redis.commands, keys, store),
    endRequester: new EndRequester(redis.commands, keys),
    // Findings and locations are audit events (logged in their log form, sealed into the stream) and metrics.
    events: fanOut(audit.protections, countFindings(metrics)),
    endLocally: ({ key, ids, spare }, code, at) => {
      if (key !== undefined) store.endWithCode(key, code, at);
      store.endIdsWithCode(ids, code, at);
      const closed = connections.terminateSessions(ids, spare);
      if (closed.connections > 0) metrics.connectionsClosed.inc({ reason: "protection" }, closed.connections);
    },
    ...deviceHeadersOf(config),
    isTrustedPeer,
    now: protectionClock ?? now,
    log: logger,
    maxSessions,
  });
}

interface GateParts {
  config: SidecarConfig;
  verifier: ReturnType<typeof createTokenVerifier>;
  view: PolicyView;
  store: SessionStore;
  protections: ProtectionGuard;
  isTrustedPeer: (peer: string) => boolean;
  freshness: Freshness;
  now: () => number;
}

function gateOptions({ config, verifier, view, store, protections, isTrustedPeer, freshness, now }: GateParts): Parameters<typeof createGate>[0] {
  return {
    verifier,
    view,
    store,
    credentials: { cookie: config.tokenCookie, header: config.tokenHeader.toLowerCase() },
    isTrustedPeer,
    protections,
    deviceHeaders: deviceHeadersOf(config),
    workload: `${config.podNamespace}/${config.podName}`,
    defaultAction: config.defaultAction,
    defaultTimeouts: defaultTimeoutsOf(config),
    maxStalenessMs: config.maxStalenessSeconds * 1000,
    lastConfirmedAt: () => freshness.confirmedAt,
    now,
  };
}

interface ProxyParts {
  gate: ReturnType<typeof instrumentGate>;
  connections: ConnectionTable;
  logger: Logger;
  trusted: ReturnType<typeof trustedProxies>;
}

function createProxy(config: SidecarConfig, { gate, connections, logger, trusted }: ProxyParts): ReturnType<typeof createSidecarServer> {
  // Without X-Forwarded-For the answer depends on the peer alone: keep the last one (keep-alive clients repeat it).
  const peerOnlyClientIp = lastValueMemo((peer) => clientIp(peer, undefined, trusted));
  return createSidecarServer({
    upstream: { host: "127.0.0.1", port: config.upstreamPort },
    gate,
    credentials: { cookie: config.tokenCookie, header: config.tokenHeader, forward: config.forwardCredentials },
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
}

/** What `listen()` starts and `stop()` stops. */
interface Parts {
  inputs: SidecarInputs;
  redis: BusRedisConnections;
  auditReporter: AuditReporter;
  subscriber: BusSubscriber;
  reporter: BusReporter;
  view: PolicyView;
  store: SessionStore;
  enforcement: Enforcement;
  proxy: ReturnType<typeof createSidecarServer>;
  admin: ReturnType<typeof createAdminServer>;
  freshness: Freshness;
  now: () => number;
}

async function listenSidecar(p: Parts): Promise<RunningSidecar> {
  const { config, logger, geo = NO_GEO } = p.inputs;
  const abort = new AbortController();
  const following = followBus(p, abort.signal);
  const heartbeat = (): void => {
    sendHeartbeat(p);
  };
  // The first heartbeat goes out at once: a termination created right after start must count this sidecar.
  heartbeat();
  const timers = [
    setInterval(heartbeat, config.heartbeatIntervalMs),
    setInterval(() => {
      p.enforcement.sweep(p.now());
    }, 1000),
  ];
  const proxyAddress = await p.proxy.listen(config.listenPort, config.listenHost);
  const adminAddress = await new Promise<AddressInfo>((resolve) => {
    p.admin.listen(config.adminPort, config.listenHost, () => {
      resolve(p.admin.address() as AddressInfo);
    });
  });
  p.store.start();
  p.auditReporter.start();
  logger.info({ event: "started", proxyPort: proxyAddress.port, adminPort: adminAddress.port, upstreamPort: config.upstreamPort }, "vigil-sidecar started");
  return {
    proxyAddress,
    adminAddress,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      abort.abort();
      await p.proxy.close();
      await new Promise((r) => p.admin.close(r));
      await following;
      await p.store.stop().catch(() => undefined);
      geo.close();
      await p.auditReporter.stop();
      await p.redis.close();
    },
  };
}

function followBus({ subscriber, enforcement, view, freshness, now, inputs }: Parts, signal: AbortSignal): Promise<void> {
  return subscriber.run(
    {
      onSnapshot: (snapshot) => {
        void enforcement.onViewChange(view.applySnapshot(snapshot));
      },
      onEvent: (event, readAt) => {
        void enforcement.onViewChange(view.applyEvent(event), readAt);
      },
      onConfirmed: (signedAt) => {
        freshness.confirmedAt = Math.min(signedAt, now());
        void enforcement.onConfirmed();
      },
      onIssue: (issue) => {
        inputs.logger.warn({ event: `bus.${issue.kind}`, ...("code" in issue ? { code: issue.code } : {}), detail: describeIssue(issue) }, "policy bus issue");
      },
    },
    signal,
  );
}

function sendHeartbeat({ reporter, inputs, view, subscriber, now }: Parts): void {
  reporter
    .heartbeat({
      v: 2,
      pod: inputs.config.podName,
      namespace: inputs.config.podNamespace,
      labels: inputs.labels,
      epoch: view.epoch,
      appliedRevision: view.revision,
      integrity: subscriber.lastRefusal,
      at: now(),
    })
    .catch(() => undefined); // staleness shows in /readyz and metrics
}

/** Builds and starts a sidecar (main.ts, tests). */
export async function startSidecar(inputs: SidecarInputs): Promise<RunningSidecar> {
  return buildSidecar(inputs).listen();
}

function describeIssue(issue: BusIssue): string {
  switch (issue.kind) {
    case "refused":
    case "unpublished":
      return issue.message;
    case "gap":
      return issue.reason;
    case "redis-error":
    case "handler-error":
      return issue.error instanceof Error ? issue.error.message : String(issue.error);
  }
}

function countFindings(metrics: Metrics): ProtectionEvents {
  return {
    finding: (f) => {
      metrics.protectionFindings.inc({ code: f.code, mode: f.mode });
    },
    located: () => undefined,
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
