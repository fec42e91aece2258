/**
 * The Manager wires the runtime: shared informers, controllers fed by them, and leader election.
 *
 *   const m = new Manager({ kc, log, registry, resyncMs, leaderElection });
 *   const policies = m.informer(customObjectSource<AccessPolicy>(kc, { group, version, plural: "accesspolicies", namespace }));
 *   const pods = m.informer(podSource(kc, { namespace }), podForCache);   // caches CachedPod (kube/transforms.ts)
 *   m.controller({ name: "accesspolicy", kind: "AccessPolicy", reconciler: new MyReconciler(policies, …),
 *                  triggers: [{ informer: policies }, { informer: pods, map: (podKey) => policyKeysFor(podKey) }] });
 *   const outcome = await m.run(sigtermSignal);   // "stopped" (graceful) | "lost" (exit non-zero and restart)
 *
 * Contract:
 * - informers run on every replica (a standby keeps a warm cache) and keep feeding keys into the queues; a
 *   periodic resync queues a trigger's keys at LOW priority (behind every change: controller-runtime's priority
 *   queue), or not at all for a trigger with `resync: "ignore"` (a secondary kind whose resync says nothing the
 *   primary's own resync does not: the Pods that wake policies);
 * - controllers' workers run only while this replica leads, and only after every informer has synced;
 * - leadership lost → controllers stop at once (queued keys dropped, running reconciles see `ctx.signal` abort),
 *   `run` resolves "lost"; the process should exit (no fencing; see docs/decisions/operator-runtime-0002);
 * - the run signal aborted (SIGTERM) → controllers stop taking keys, running reconciles finish, the lease is
 *   released for a fast failover, informers stop, `run` resolves "stopped";
 * - `readiness()` is ready once every informer has synced (a standby is ready too: it is healthy).
 * Without `leaderElection` the manager leads unconditionally (single replica, tests).
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Readiness } from "../admin.ts";
import type { Logger } from "../../lib/log.ts";
import { Informer } from "../kube/informer.ts";
import { LeaderElector, type LeaderElectionOptions } from "../kube/leader-election.ts";
import type { HasMetadata } from "../kube/keys.ts";
import type { InformerEventType } from "../kube/informer.ts";
import type { ResourceSource } from "../kube/sources.ts";
import { Controller, type Reconciler } from "./reconciler.ts";

export type LeaderElectionSettings = Pick<
  LeaderElectionOptions,
  "leaseName" | "leaseNamespace" | "identity" | "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"
>;

export interface ManagerOptions {
  kc: KubeConfig;
  log: Logger;
  registry: Registry;
  resyncMs: number;
  leaderElection?: LeaderElectionSettings;
}

export interface Trigger {
  informer: Informer<HasMetadata>;
  /** Keys of the controller's objects to reconcile when `key` of this informer changes; default: `[key]`. */
  map?: (key: string) => readonly string[];
  /** What a periodic resync of the informer does: queue the (mapped) keys at low priority (default), or nothing. */
  resync?: "low" | "ignore";
}

type KeyListener = (key: string, type: InformerEventType) => void;

/** The informer handler of one trigger: changes queue normally, resyncs at low priority or not at all. */
export function triggerHandler(trigger: Pick<Trigger, "map" | "resync">, queue: { add(key: string): void; addLow(key: string): void }): KeyListener {
  const map = trigger.map ?? ((key: string) => [key]);
  const ignoreResync = trigger.resync === "ignore";
  return (key, type) => {
    if (type !== "resync") {
      for (const k of map(key)) queue.add(k);
    } else if (!ignoreResync) {
      for (const k of map(key)) queue.addLow(k);
    }
  };
}

export interface ControllerSpec {
  name: string;
  kind: string;
  reconciler: Reconciler;
  triggers: readonly Trigger[];
  concurrency?: number;
}

export type RunOutcome = "stopped" | "lost";

export class Manager {
  readonly #o: ManagerOptions;
  readonly #informers: Informer<HasMetadata>[] = [];
  readonly #handlers = new Map<Informer<HasMetadata>, KeyListener[]>();
  readonly #controllers: Controller[] = [];
  #leading = false;

  constructor(options: ManagerOptions) {
    this.#o = options;
  }

  /**
   * A shared informer for `source` (register before `run`), caching `transform(obj)` of every object (kube/transforms.ts)
   * and typed by what it caches; without a transform, typed by the source.
   */
  informer<T extends HasMetadata>(source: ResourceSource<T>, transform?: (obj: T) => T): Informer<T>;
  informer<T extends HasMetadata, S extends HasMetadata>(source: ResourceSource<S>, transform: (obj: S) => T): Informer<T, S>;
  informer<T extends HasMetadata, S extends HasMetadata>(source: ResourceSource<S>, transform?: (obj: S) => T): Informer<T, S> {
    const handlers: KeyListener[] = [];
    const settings = {
      kc: this.#o.kc,
      log: this.#o.log,
      resyncMs: this.#o.resyncMs,
      onKey: (key: string, type: InformerEventType) => {
        for (const h of handlers) h(key, type);
      },
    };
    // Without a transform S is T (the first overload).
    const informer =
      transform === undefined
        ? (new Informer<T>({ ...settings, source: source as unknown as ResourceSource<T> }) as Informer<T, S>)
        : new Informer<T, S>({ ...settings, source, transform });
    this.#handlers.set(informer, handlers);
    this.#informers.push(informer);
    return informer;
  }

  /** A controller whose queue is fed by its triggers (register before `run`). */
  controller(spec: ControllerSpec): Controller {
    const controller = new Controller({
      name: spec.name,
      kind: spec.kind,
      reconciler: spec.reconciler,
      log: this.#o.log,
      registry: this.#o.registry,
      ...(spec.concurrency === undefined ? {} : { concurrency: spec.concurrency }),
    });
    for (const trigger of spec.triggers) {
      const handlers = this.#handlers.get(trigger.informer);
      if (handlers === undefined) throw new Error("trigger informer was not created by this manager");
      handlers.push(triggerHandler(trigger, controller.queue));
    }
    this.#controllers.push(controller);
    return controller;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  readiness(): Readiness {
    const waiting = this.#informers.filter((i) => !i.hasSynced()).length;
    return waiting === 0 ? { ready: true } : { ready: false, reason: `${waiting} informer(s) not synced` };
  }

  async run(signal: AbortSignal): Promise<RunOutcome> {
    for (const i of this.#informers) i.start();
    try {
      const le = this.#o.leaderElection;
      if (le === undefined) {
        await this.#lead(signal);
        await untilAborted(signal);
        await this.#stopControllers(false);
        return "stopped";
      }
      const state = { lost: false };
      const elector = new LeaderElector({
        kc: this.#o.kc,
        ...le,
        log: this.#o.log,
        onStartedLeading: (leadSignal) => {
          void this.#lead(leadSignal);
        },
        onStoppedLeading: async () => {
          state.lost = !signal.aborted;
          await this.#stopControllers(state.lost);
        },
      });
      await elector.run(signal);
      return state.lost ? "lost" : "stopped";
    } finally {
      await Promise.all(this.#informers.map((i) => i.stop()));
    }
  }

  async #lead(leadSignal: AbortSignal): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.waitForSync()));
    if (leadSignal.aborted) return;
    this.#leading = true;
    this.#o.log.info("leading: starting controllers");
    for (const c of this.#controllers) c.start();
  }

  async #stopControllers(lost: boolean): Promise<void> {
    this.#leading = false;
    this.#o.log.info({ lost }, "stopping controllers");
    await Promise.all(this.#controllers.map((c) => c.stop({ drain: false, abort: lost })));
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      "abort",
      () => {
        resolve();
      },
      { once: true },
    );
  });
}
