/**
 * Assembly of vigil-operator (no process concerns: main.ts owns configuration errors, signals, exit codes and the
 * admin server). As with controller-runtime's manager setup, one Manager (Lease leader election, the shared
 * informers) is made first and every subsystem is then set up on it by a named builder from one context:
 *
 *   const app = assembleOperator({ config, log, kc, registry, redis, signingKeys, sessionKeys, extraControllers });
 *   const servers = await startServers({ ...context, app, signals });  // webhook, sessions API + ingest, signals
 *   const outcome = await app.run(signal);   // "stopped" | "lost" (leadership lost: exit non-zero)
 *   await servers.stop();
 *
 * Builders:
 *   newManager                the Manager and the informers (AccessPolicies, SessionTerminations, Pods)
 *   buildBus                  the bus publisher, its BusContext (live sidecars, metrics), Events, the revision floor
 *   setupResourceControllers  `accesspolicy` (a pod change, or a change in the live sidecars of a namespace, wakes
 *                             the policies of that namespace: selector warning, sidecar counts), `sessiontermination`
 *   setupBusControllers       `bus` (one synthetic key: adopts or rebuilds the signed bus, checks it, re-signs its
 *                             epoch, syncs it with the resources; woken at once when Redis reconnects; after a
 *                             rebuild every policy and unfinished termination is reconciled again, behind new
 *                             changes), `ack-watch` (following acknowledgements), `sidecar-watch` (polling heartbeats)
 *   setupSignalControllers    SignalTerminations, `end-requests` (sidecars' requests to end a session everywhere),
 *                             the SSF stream keepers (`extraControllers`)
 *   startWebhook, startSessionsApi (with startAuditIngest): the servers beside the Manager, on every replica
 */
import { servingCertificateSettings } from "./webhook/serving-certificate.ts";
import type { KubeConfig } from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import type { Readiness } from "./admin.ts";
import { ACCESS_POLICY, GROUP, SESSION_TERMINATION, VERSION, type AccessPolicy, type SessionTermination } from "./api/v1alpha1/index.ts";
import type { BusRedisConnections } from "../lib/redis.ts";
import { BusPublisher } from "./bus/publisher.ts";
import type { SigningKeyRing } from "./bus/signing-keys.ts";
import { sessionKeyLookup } from "./bus/session-lookup.ts";
import type { KeyRing } from "../lib/sealing.ts";
import { ACK_WATCH_KEY, AckWatchReconciler } from "./controller/ack-watch.ts";
import type { OperatorConfig } from "./config.ts";
import { AccessPolicyReconciler, policyKeysInNamespace } from "./controller/access-policy.ts";
import { BusContext } from "./controller/bus-context.ts";
import { BUS_RESYNC_KEY, BusResyncReconciler, maxBusRevision } from "./controller/bus-resync.ts";
import { Manager, type RunOutcome } from "./controller/manager.ts";
import type { Controller, Reconciler } from "./controller/reconciler.ts";
import { SessionTerminationReconciler, needsReconcile } from "./controller/session-termination.ts";
import { SIDECAR_WATCH_KEY, SidecarWatchReconciler } from "./controller/sidecar-watch.ts";
import { isFinished } from "./controller/termination-status.ts";
import { makeClients, type KubeClients } from "./kube/clients.ts";
import { EventRecorder } from "./kube/events.ts";
import type { Informer } from "./kube/informer.ts";
import { customObjectSource, podSource } from "./kube/sources.ts";
import { podForCache, terminationForCache, withoutApplyBookkeeping, type CachedPod } from "./kube/transforms.ts";
import type { Logger } from "../lib/log.ts";
import { AuditIngest } from "./audit/ingest.ts";
import { SessionIndex } from "./sessions-api/index/session-index.ts";
import { runSessionsApi } from "./sessions-api/run.ts";
import { sessionIndexOptions, sessionsApiSettings } from "./sessions-api/settings.ts";
import { END_REQUESTS_KEY, EndRequestWatch } from "./signals/end-requests.ts";
import type { SignalsHandle } from "./signals/run.ts";
import { sessionNamespacesLookup } from "./signals/session-namespaces.ts";
import { SignalTerminations } from "./signals/terminations.ts";
import { runWebhook, type RunningWebhook } from "./webhook/run.ts";

/** What the operator is built from: its configuration and the process's shared resources (main.ts makes them). */
export interface OperatorContext {
  config: OperatorConfig;
  log: Logger;
  kc: KubeConfig;
  registry: Registry;
  redis: BusRedisConnections;
  /** The current bus signing key ring (main.ts reloads it when the mounted Secret changes). */
  signingKeys: () => SigningKeyRing;
  /** The session-encryption key ring (sealed session records). */
  sessionKeys: KeyRing;
}

export interface OperatorAppOptions extends OperatorContext {
  /** Acknowledgement poll interval of terminations. Default 1000 ms. */
  terminationPollMs?: number;
  /** Requeue interval while a policy's sidecar counts converge. Default 2000 ms. */
  convergeRequeueMs?: number;
  /** How often the live sidecar set is read for changes. Default 2000 ms. */
  sidecarPollMs?: number;
  /** More leader-only controllers with one synthetic key each (the SSF stream keepers). */
  extraControllers?: { name: string; key: string; reconciler: Reconciler }[];
}

export interface OperatorApp {
  readonly manager: Manager;
  /** Creates SessionTerminations for identity-provider signals and session protections (any replica may use it). */
  readonly signalTerminations: SignalTerminations;
  readonly publisher: BusPublisher;
  readonly bus: BusContext;
  readiness(): Readiness;
  run(signal: AbortSignal): Promise<RunOutcome>;
}

interface Informers {
  policies: Informer<AccessPolicy>;
  terminations: Informer<SessionTermination>;
  pods: Informer<CachedPod>;
}

interface Bus {
  publisher: BusPublisher;
  bus: BusContext;
  events: EventRecorder;
  /** Raises the publisher's revision floor above every revision the resources recorded (once, on first use). */
  ensureRevisionFloor: () => void;
}

/** What the controller builders share. */
interface Setup extends Bus {
  o: OperatorAppOptions;
  manager: Manager;
  clients: KubeClients;
  informers: Informers;
}

/** The controllers other builders wake. */
interface ResourceControllers {
  policies: Controller;
  terminations: Controller;
}

export function assembleOperator(o: OperatorAppOptions): OperatorApp {
  const clients = makeClients(o.kc);
  const { manager, informers } = newManager(o);
  const setup: Setup = { o, manager, clients, informers, ...buildBus(o, informers) };
  const resources = setupResourceControllers(setup);
  setupBusControllers(setup, resources);
  const signals = setupSignalControllers(setup);
  return {
    manager,
    publisher: setup.publisher,
    bus: setup.bus,
    signalTerminations: signals.terminations,
    readiness: () => manager.readiness(),
    run: async (signal) => {
      try {
        return await manager.run(signal);
      } finally {
        signals.close();
      }
    },
  };
}

function newManager({ config, log, kc, registry }: OperatorContext): { manager: Manager; informers: Informers } {
  const manager = new Manager({
    kc,
    log,
    registry,
    resyncMs: config.resyncSeconds * 1000,
    leaderElection: {
      leaseName: config.leaseName,
      leaseNamespace: config.leaseNamespace,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationSeconds * 1000,
      renewDeadlineMs: config.renewDeadlineSeconds * 1000,
      retryPeriodMs: config.retryPeriodSeconds * 1000,
    },
  });
  const namespace = config.watchNamespace;
  const informers: Informers = {
    policies: manager.informer(
      customObjectSource<AccessPolicy>(kc, { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural, namespace }),
      withoutApplyBookkeeping,
    ),
    terminations: manager.informer(
      customObjectSource<SessionTermination>(kc, { group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural, namespace }),
      terminationForCache,
    ),
    // The caches keep only what the controllers read (kube/transforms.ts, docs/decisions/operator-runtime-0006).
    pods: manager.informer(podSource(kc, { namespace }), podForCache),
  };
  return { manager, informers };
}

function buildBus({ config, log, kc, registry, redis, signingKeys }: OperatorContext, { policies, terminations }: Informers): Bus {
  const publisher = new BusPublisher({ redis: redis.commands, prefix: config.busPrefix, keys: signingKeys });
  const bus = new BusContext({ publisher, registry, heartbeatMaxAgeMs: config.heartbeatMaxAgeSeconds * 1000 });
  const events = new EventRecorder({ kc, controller: `${GROUP}/operator`, instance: config.identity, log });
  let floorRaised = false;
  const ensureRevisionFloor = (): void => {
    if (floorRaised) return;
    floorRaised = true;
    publisher.raiseRevisionFloor(maxBusRevision(policies, terminations));
  };
  return { publisher, bus, events, ensureRevisionFloor };
}

/** The reconcilers of the two resources: AccessPolicy and SessionTermination. */
function setupResourceControllers({ o, manager, clients, informers, publisher, bus, events, ensureRevisionFloor }: Setup): ResourceControllers {
  const { config } = o;
  const { policies, terminations, pods } = informers;
  const policyController = manager.controller({
    name: "accesspolicy",
    kind: ACCESS_POLICY.kind,
    concurrency: 4,
    reconciler: new AccessPolicyReconciler({
      policies,
      pods,
      api: clients.customObjects,
      bus,
      events,
      ensureRevisionFloor,
      ...(o.convergeRequeueMs === undefined ? {} : { convergeRequeueMs: o.convergeRequeueMs }),
    }),
    // A Pod's resync says nothing a policy's own resync does not re-check.
    triggers: [{ informer: policies }, { informer: pods, map: (podKey) => policyKeysInNamespace(policies, podKey), resync: "ignore" }],
  });
  const terminationController = manager.controller({
    name: "sessiontermination",
    kind: SESSION_TERMINATION.kind,
    concurrency: 8,
    reconciler: new SessionTerminationReconciler({
      terminations,
      policies,
      api: clients.customObjects,
      bus,
      events,
      ensureRevisionFloor,
      terminationTimeoutMs: config.terminationTimeoutSeconds * 1000,
      revocationClockSkewMs: config.revocationClockSkewSeconds * 1000,
      sessionKeyOf: sessionKeyLookup(o.redis.commands, publisher.keys, o.sessionKeys),
      // After a bus rebuild, live sidecars re-register within a few heartbeats.
      registrationGraceMs: Math.min(10_000, config.heartbeatMaxAgeSeconds * 1000),
      ...(o.terminationPollMs === undefined ? {} : { pollMs: o.terminationPollMs }),
    }),
    // A finished termination without a TTL has nothing left to do: resyncs of thousands of them stay out of the queue.
    triggers: [{ informer: terminations, map: (key) => (needsReconcile(terminations.get(key)) ? [key] : []) }],
  });
  return { policies: policyController, terminations: terminationController };
}

/** The bus (adopt/rebuild, check, sync; woken when Redis reconnects) and the two watches of what sidecars report. */
function setupBusControllers({ o, manager, informers, publisher, bus, events }: Setup, wake: ResourceControllers): void {
  const { config } = o;
  const { policies, terminations } = informers;
  const resync = manager.controller({
    name: "bus",
    kind: "PolicyBus",
    concurrency: 1,
    reconciler: new BusResyncReconciler({
      policies,
      terminations,
      bus,
      events,
      leaseTarget: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: config.leaseName, namespace: config.leaseNamespace } },
      checkMs: config.busCheckSeconds * 1000,
      resyncMs: config.resyncSeconds * 1000,
      revocationClockSkewMs: config.revocationClockSkewSeconds * 1000,
      pruneSidecarsOlderThanMs: config.heartbeatMaxAgeSeconds * 10_000,
      onRebuilt: () => {
        for (const key of policies.keys()) wake.policies.enqueueLow(key);
        for (const key of terminations.keys()) if (!isFinished(terminations.get(key)?.status)) wake.terminations.enqueueLow(key);
      },
    }),
    triggers: [],
  });
  resync.enqueue(BUS_RESYNC_KEY);
  // A reconnect may mean Redis restarted empty: check the bus at once instead of at the next tick.
  let connectionLost = false;
  o.redis.commands.on("close", () => {
    connectionLost = true;
  });
  o.redis.commands.on("ready", () => {
    if (connectionLost) bus.noteReconnect();
    connectionLost = false;
    resync.enqueue(BUS_RESYNC_KEY);
  });
  const ackWatch = new AckWatchReconciler({
    blocking: o.redis.blocking,
    keys: publisher.keys,
    onTermination: (key) => {
      wake.terminations.enqueue(key);
    },
  });
  manager.controller({ name: "ack-watch", kind: "Acknowledgements", concurrency: 1, reconciler: ackWatch, triggers: [] }).enqueue(ACK_WATCH_KEY);
  const sidecarWatch = new SidecarWatchReconciler({
    bus,
    intervalMs: o.sidecarPollMs ?? 2000,
    onNamespacesChanged: (namespaces) => {
      for (const ns of namespaces) {
        for (const key of policyKeysInNamespace(policies, `${ns}/-`)) wake.policies.enqueue(key);
      }
    },
  });
  manager.controller({ name: "sidecar-watch", kind: "SidecarRegistry", concurrency: 1, reconciler: sidecarWatch, triggers: [] }).enqueue(SIDECAR_WATCH_KEY);
}

/**
 * SessionTerminations for identity-provider signals, session protections and sidecars' end requests (`end-requests`,
 * on a blocking connection of its own, closed by `close`), and the SSF stream keepers.
 */
function setupSignalControllers({ o, manager, clients, publisher }: Setup): { terminations: SignalTerminations; close(): void } {
  const { log, registry } = o;
  const signalCounter = new Counter({
    name: "vigil_operator_signal_terminations_total",
    help: "SessionTerminations asked for by identity-provider signals and session protections, by source and outcome (created, existing, failed).",
    labelNames: ["source", "outcome"],
    registers: [registry],
  });
  const endRequestCounter = new Counter({
    name: "vigil_operator_end_requests_total",
    help: "Sidecars' requests to end a session everywhere, by outcome (accepted, invalid, throttled).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const terminations = new SignalTerminations(clients.customObjects, log, (source, outcome) => {
    signalCounter.inc({ source, outcome });
  });
  const endRequestsBlocking = o.redis.blocking.duplicate();
  const endRequests = new EndRequestWatch({
    blocking: endRequestsBlocking,
    keys: publisher.keys,
    terminations,
    sessionNamespaces: sessionNamespacesLookup(o.redis.commands, publisher.keys, o.sessionKeys),
    count: (outcome) => {
      endRequestCounter.inc({ outcome });
    },
  });
  manager.controller({ name: "end-requests", kind: "EndRequests", concurrency: 1, reconciler: endRequests, triggers: [] }).enqueue(END_REQUESTS_KEY);
  for (const extra of o.extraControllers ?? []) {
    manager.controller({ name: extra.name, kind: "SignalStream", concurrency: 1, reconciler: extra.reconciler, triggers: [] }).enqueue(extra.key);
  }
  return {
    terminations,
    close: () => {
      endRequestsBlocking.disconnect();
    },
  };
}

/** What the servers beside the Manager are built from. */
export interface ServersContext extends OperatorContext {
  app: OperatorApp;
  /** The identity-provider signal receivers (prepared and connected to `app` by main.ts). */
  signals: Pick<SignalsHandle, "start" | "close">;
}

export interface Servers {
  /** Stops them in the order they started. */
  stop(): Promise<void>;
}

/** The servers of every replica: the injection webhook, the sessions API with the audit ingest, the signal receivers. */
export async function startServers(ctx: ServersContext): Promise<Servers> {
  const webhook = await startWebhook(ctx);
  const sessionsApi = await startSessionsApi(ctx);
  await ctx.signals.start();
  return {
    async stop() {
      await webhook?.stop();
      await sessionsApi.stop();
      await ctx.signals.close();
    },
  };
}

/** The injection webhook (nothing when VIGIL_WEBHOOK_PORT is 0). */
async function startWebhook({ config, kc, log, registry }: OperatorContext): Promise<RunningWebhook | undefined> {
  if (config.webhookPort === 0) return undefined;
  const settings = {
    port: config.webhookPort,
    host: config.webhookHost,
    injectionConfigFile: config.injectionConfigFile,
    ...servingCertificateSettings(config),
  };
  return runWebhook(kc, settings, log, registry);
}

/**
 * The sessions API and the audit ingest feeding its index (nothing when VIGIL_SESSIONS_API_PORT is 0): every
 * replica keeps the whole index and serves the sessions API from it.
 */
async function startSessionsApi(ctx: ServersContext): Promise<{ stop(): Promise<void> }> {
  const { config, kc, log, registry } = ctx;
  if (config.sessionsApiPort === 0) return { stop: () => Promise.resolve() };
  const index = new SessionIndex(sessionIndexOptions(config));
  const api = await runSessionsApi(kc, sessionsApiSettings(config), index, log, registry);
  const ingest = startAuditIngest(ctx, index);
  return {
    async stop() {
      await ingest.stop();
      await api.stop();
    },
  };
}

/** Every replica reads the sidecars' audit stream into its own index; XREAD BLOCK holds its connection: one of its own. */
function startAuditIngest({ config, redis, app, sessionKeys, log, registry }: ServersContext, index: SessionIndex): AuditIngest {
  const ingest = new AuditIngest({
    redis: redis.blocking.duplicate({ connectionName: `vigil-operator-${config.identity}-audit`.slice(0, 100) }),
    streamKey: app.publisher.keys.audit,
    keyRing: sessionKeys,
    index,
    liveSidecars: () => app.bus.liveSidecars(),
    log,
    registry,
  });
  ingest.start();
  return ingest;
}
