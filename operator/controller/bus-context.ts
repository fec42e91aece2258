/**
 * What the reconcilers share about the bus: the publisher, publish latency and the live-sidecar view.
 *
 * - `timed(operation, fn)` observes `vigil_operator_bus_publish_seconds{operation}` (success or not).
 * - `liveSidecars()` reads the heartbeats (P sidecars) at most every `sidecarCacheMs` (default 250 ms) however many
 *   reconciles ask, and sets `vigil_operator_sidecars_known` (live sidecars) from each read. A Redis failure
 *   rejects (coded BUS_UNAVAILABLE by the publisher) and is not cached.
 * - `publish(operation, fn)`: a timed write that runs under the SHARED side of a gate whose EXCLUSIVE side is
 *   taken by the periodic re-assertion (`exclusive`). The re-assertion reads the informer caches inside the
 *   exclusive section, after every in-flight publish finished: caches never go backwards, so what it asserts is at
 *   least as new as anything a reconciler published (it can never put back an older generation).
 * - `isBusError(err)` tells a bus failure (Redis unreachable, bus not loaded yet, bus damaged and awaiting its
 *   rebuild) apart from anything else (Kubernetes, bugs): reconcilers report it in status and retry.
 * - `vigil_operator_bus_invalid_messages`: heartbeats/acks that did not validate (a rogue writer), skipped.
 * Metrics are registered once per Registry.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Heartbeat } from "../api/bus/messages.ts";
import type { BusPublisher } from "../bus/publisher.ts";
import { isOperatorError, type OperatorError } from "../errors.ts";

export interface BusMetrics {
  readonly publishSeconds: Histogram<"operation">;
  readonly sidecarsKnown: Gauge;
  /** Heartbeats and acks that did not validate (skipped), as counted by the publisher set with `countInvalidFrom`. */
  readonly invalidMessages: Gauge;
  /** Rebuilds of the bus (a new epoch), by reason. */
  readonly rebuilds: Counter<"reason">;
  countInvalidFrom(source: () => number): void;
}

const metricsByRegistry = new WeakMap<Registry, BusMetrics>();

export function busMetrics(registry: Registry): BusMetrics {
  const existing = metricsByRegistry.get(registry);
  if (existing !== undefined) return existing;
  let invalidSource: () => number = () => 0;
  const metrics: BusMetrics = {
    publishSeconds: new Histogram({
      name: "vigil_operator_bus_publish_seconds",
      help: "Time of one write to the policy bus (upsert, delete, termination, reassert).",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    sidecarsKnown: new Gauge({
      name: "vigil_operator_sidecars_known",
      help: "Sidecars with a live heartbeat on the policy bus.",
      registers: [registry],
    }),
    invalidMessages: new Gauge({
      name: "vigil_operator_bus_invalid_messages",
      help: "Heartbeats and acknowledgements read from the bus that did not validate and were skipped (since start).",
      registers: [registry],
      collect() {
        this.set(invalidSource());
      },
    }),
    rebuilds: new Counter({
      name: "vigil_operator_bus_rebuilds_total",
      help: "Times the whole policy bus was rebuilt from the resources as a new epoch, by reason (not_built, lost, damaged, altered, sidecar_reported, key_rotated).",
      labelNames: ["reason"],
      registers: [registry],
    }),
    countInvalidFrom(source) {
      invalidSource = source;
    },
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}

export interface BusContextOptions {
  publisher: BusPublisher;
  registry: Registry;
  heartbeatMaxAgeMs: number;
  sidecarCacheMs?: number;
  now?: () => number;
}

export function isBusError(err: unknown): err is OperatorError {
  return isOperatorError(err, "BUS_UNAVAILABLE") || isOperatorError(err, "BUS_NOT_READY") || isOperatorError(err, "BUS_DAMAGED");
}

export class BusContext {
  readonly publisher: BusPublisher;
  readonly heartbeatMaxAgeMs: number;
  readonly #metrics: BusMetrics;
  readonly #cacheMs: number;
  readonly #now: () => number;
  #cached: { at: number; value: Promise<Heartbeat[]> } | undefined;
  readonly metrics: BusMetrics;
  readonly #gate = new SharedExclusiveGate();
  #reconnectedAt = 0;

  constructor(options: BusContextOptions) {
    this.publisher = options.publisher;
    this.heartbeatMaxAgeMs = options.heartbeatMaxAgeMs;
    this.#metrics = busMetrics(options.registry);
    this.metrics = this.#metrics;
    this.#metrics.countInvalidFrom(() => options.publisher.invalidMessages);
    this.#cacheMs = options.sidecarCacheMs ?? 250;
    this.#now = options.now ?? Date.now;
  }

  now(): number {
    return this.#now();
  }

  /** The operator's Redis connection came back: sidecars are reconnecting too, and re-registering. */
  noteReconnect(): void {
    this.#reconnectedAt = this.#now();
  }

  /**
   * Before this (epoch ms) the set of live sidecars may be incomplete: within `graceMs` of a bus rebuild or of a
   * Redis reconnection, sidecars are still coming back and re-registering.
   */
  registrySettledAt(graceMs: number): number {
    return Math.max(this.publisher.epoch?.createdAt ?? 0, this.#reconnectedAt) + graceMs;
  }

  /** A timed bus write, under the shared side of the re-assertion gate. */
  async publish<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#gate.shared(() => this.timed(operation, fn));
  }

  /** Run `fn` with no publish in flight and none starting (the re-assertion). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#gate.exclusive(fn);
  }

  async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.#metrics.publishSeconds.startTimer({ operation });
    try {
      return await fn();
    } finally {
      end();
    }
  }

  /** Live heartbeats; `fresh` skips the short cache (e.g. when fixing who must acknowledge a termination). */
  liveSidecars(options: { fresh?: boolean } = {}): Promise<Heartbeat[]> {
    const now = this.#now();
    const cached = this.#cached;
    if (options.fresh !== true && cached !== undefined && now - cached.at < this.#cacheMs) return cached.value;
    const value = this.publisher.liveSidecars(now, this.heartbeatMaxAgeMs).then((live) => {
      this.#metrics.sidecarsKnown.set(live.length);
      return live;
    });
    this.#cached = { at: now, value };
    value.catch(() => {
      if (this.#cached?.value === value) this.#cached = undefined;
    });
    return value;
  }
}

/** Many shared holders or one exclusive holder; a waiting exclusive holder blocks new shared ones. */
export class SharedExclusiveGate {
  #shared = 0;
  #exclusive: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive !== undefined) await this.#exclusive;
    this.#shared++;
    try {
      return await fn();
    } finally {
      this.#shared--;
      if (this.#shared === 0) this.#idle?.();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive !== undefined) await this.#exclusive;
    let release: () => void = () => undefined;
    this.#exclusive = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      if (this.#shared > 0) {
        await new Promise<void>((resolve) => {
          this.#idle = resolve;
        });
      }
      this.#idle = undefined;
      return await fn();
    } finally {
      this.#exclusive = undefined;
      release();
    }
  }
}
