/**
 * Assembly of vigil-operator (no process concerns: main.ts owns signals, exit codes and the admin server, so
 * tests and the benchmark can start the same operator in-process).
 *
 *   const app = assembleOperator({ config, log, kc, registry, redis });
 *   const outcome = await app.run(signal);   // "stopped" | "lost" (leadership lost: exit non-zero)
 *
 * Wires: informers (AccessPolicies, SessionTerminations, Pods of the watched namespace(s)) → controllers
 * `accesspolicy`, `sessiontermination`, `bus` (one synthetic key: adopts or rebuilds the signed bus, checks it,
 * re-signs its epoch, syncs it with the resources; woken at once when Redis reconnects), `ack-watch` (one synthetic
 * key, following acknowledgements) and `sidecar-watch` (one synthetic key, polling heartbeats) under one Manager
 * with Lease leader election. A pod change, or a change in the live sidecars of a namespace, wakes the policies of
 * that namespace (selector warning, sidecar counts); after a bus rebuild every policy and termination is
 * reconciled again.
 */
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
import { SessionTerminationReconciler, needsReconcile } from "./controller/session-termination.ts";
import { SIDECAR_WATCH_KEY, SidecarWatchReconciler } from "./controller/sidecar-watch.ts";
import { makeClients } from "./kube/clients.ts";
import { EventRecorder } from "./kube/events.ts";
import { customObjectSource, podSource } from "./kube/sources.ts";
import type { Logger } from "../lib/log.ts";
import { END_REQUESTS_KEY, EndRequestWatch } from "./signals/end-requests.ts";
import { sessionNamespacesLookup } from "./signals/session-namespaces.ts";
import { SignalTerminations } from "./signals/terminations.ts";
import type { Reconciler } from "./controller/reconciler.ts";

export interface OperatorAppOptions {
  config: OperatorConfig;
  log: Logger;
  kc: KubeConfig;
  registry: Registry;
  redis: BusRedisConnections;
  /** The current bus signing key ring (main.ts reloads it when the mounted Secret changes). */
  signingKeys: () => SigningKeyRing;
  /** The session-encryption key ring (sealed session records). */
  sessionKeys: KeyRing;
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

export function assembleOperator(o: OperatorAppOptions): OperatorApp {
  const { config, log, kc, registry } = o;
  const clients = makeClients(kc);
  const resyncMs = config.resyncSeconds * 1000;
  const manager = new Manager({
    kc,
    log,
    registry,
    resyncMs,
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
  const policies = manager.informer(customObjectSource<AccessPolicy>(kc, { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural, namespace }));
  const terminations = manager.informer(customObjectSource<SessionTermination>(kc, { group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural, namespace }));
  const pods = manager.informer(podSource(kc, { namespace }));

  const publisher = new BusPublisher({ redis: o.redis.commands, prefix: config.busPrefix, keys: o.signingKeys });
  const bus = new BusContext({ publisher, registry, heartbeatMaxAgeMs: config.heartbeatMaxAgeSeconds * 1000 });
  const events = new EventRecorder({ kc, controller: `${GROUP}/operator`, instance: config.identity, log });
  let floorRaised = false;
  const ensureRevisionFloor = (): void => {
    if (floorRaised) return;
    floorRaised = true;
    publisher.raiseRevisionFloor(maxBusRevision(policies, terminations));
  };

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
    triggers: [{ informer: policies }, { informer: pods, map: (podKey) => policyKeysInNamespace(policies, podKey) }],
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
      resyncMs,
      revocationClockSkewMs: config.revocationClockSkewSeconds * 1000,
      pruneSidecarsOlderThanMs: config.heartbeatMaxAgeSeconds * 10_000,
      onRebuilt: () => {
        for (const key of policies.keys()) policyController.enqueue(key);
        for (const key of terminations.keys()) terminationController.enqueue(key);
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
  const ackWatch = manager.controller({
    name: "ack-watch",
    kind: "Acknowledgements",
    concurrency: 1,
    reconciler: new AckWatchReconciler({
      blocking: o.redis.blocking,
      keys: publisher.keys,
      onTermination: (key) => {
        terminationController.enqueue(key);
      },
    }),
    triggers: [],
  });
  ackWatch.enqueue(ACK_WATCH_KEY);
  const sidecarWatch = manager.controller({
    name: "sidecar-watch",
    kind: "SidecarRegistry",
    concurrency: 1,
    reconciler: new SidecarWatchReconciler({
      bus,
      intervalMs: o.sidecarPollMs ?? 2000,
      onNamespacesChanged: (namespaces) => {
        for (const ns of namespaces) {
          for (const key of policyKeysInNamespace(policies, `${ns}/-`)) policyController.enqueue(key);
        }
      },
    }),
    triggers: [],
  });
  sidecarWatch.enqueue(SIDECAR_WATCH_KEY);

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
  const signalTerminations = new SignalTerminations(clients.customObjects, log, (source, outcome) => {
    signalCounter.inc({ source, outcome });
  });
  const endRequestsBlocking = o.redis.blocking.duplicate();
  const endRequests = manager.controller({
    name: "end-requests",
    kind: "EndRequests",
    concurrency: 1,
    reconciler: new EndRequestWatch({
      blocking: endRequestsBlocking,
      keys: publisher.keys,
      terminations: signalTerminations,
      sessionNamespaces: sessionNamespacesLookup(o.redis.commands, publisher.keys, o.sessionKeys),
      count: (outcome) => {
        endRequestCounter.inc({ outcome });
      },
    }),
    triggers: [],
  });
  endRequests.enqueue(END_REQUESTS_KEY);
  for (const extra of o.extraControllers ?? []) {
    manager.controller({ name: extra.name, kind: "SignalStream", concurrency: 1, reconciler: extra.reconciler, triggers: [] }).enqueue(extra.key);
  }

  return {
    manager,
    publisher,
    bus,
    signalTerminations,
    readiness: () => manager.readiness(),
    run: async (signal) => {
      try {
        return await manager.run(signal);
      } finally {
        endRequestsBlocking.disconnect();
      }
    },
  };
}
