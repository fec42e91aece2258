/**
 * Reconcilers and the loop that runs them (controller-runtime's reconcileHandler).
 *
 * Contract for a `Reconciler`: level-triggered and idempotent. It receives only a key (`namespace/name`), reads
 * the current object itself (cache or API) and drives the world towards it; it never trusts the event that woke
 * it. Its outcome decides what happens to the key:
 *
 *   throws TerminalError            → logged, counted (result=terminal_error), NOT retried, backoff forgotten
 *   throws anything else            → logged, counted (result=error), retried with the key's exponential backoff
 *   returns {requeueAfterMs: n > 0} → backoff forgotten, key queued again after n ms (result=requeue_after)
 *   returns {}                      → backoff forgotten (result=success)
 *
 * Every log line of a reconcile carries resource_kind/namespace/name and a fresh `reconcileId` (crypto UUID):
 * use `ctx.log`. `ctx.signal` aborts when the controller stops without draining (e.g. leadership lost): stop
 * writing and return/throw promptly.
 *
 * Metrics (on the Registry passed in; shared by all controllers of the process):
 *   vigil_operator_reconcile_total{controller,result}   counter
 *   vigil_operator_reconcile_duration_seconds{controller} histogram
 *   vigil_operator_workqueue_depth{controller}          gauge (keys ready, waiting for a worker)
 */
import { randomUUID } from "node:crypto";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { errorFields, isTerminalError } from "../errors.ts";
import type { Logger } from "../../lib/log.ts";
import { withResource } from "../log.ts";
import { splitKey } from "../kube/keys.ts";
import { WorkQueue, type WorkQueueOptions } from "./workqueue.ts";

export interface Result {
  /** Reconcile this key again after this many milliseconds (e.g. to poll for acknowledgements). */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** Logger bound to the resource and this reconcile's ID. */
  readonly log: Logger;
  readonly reconcileId: string;
  /** Aborted when the controller stops without draining (leadership lost, shutdown timeout). */
  readonly signal: AbortSignal;
}

export interface Reconciler {
  reconcile(key: string, ctx: ReconcileContext): Promise<Result>;
}

export type ReconcileOutcome = "success" | "requeue_after" | "error" | "terminal_error";

export interface ControllerMetrics {
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
}

const metricsByRegistry = new WeakMap<Registry, ControllerMetrics>();

/** The controller metrics registered once on `registry` (idempotent). */
export function controllerMetrics(registry: Registry): ControllerMetrics {
  const existing = metricsByRegistry.get(registry);
  if (existing !== undefined) return existing;
  const metrics: ControllerMetrics = {
    reconcileTotal: new Counter({
      name: "vigil_operator_reconcile_total",
      help: "Reconciles by controller and result (success, requeue_after, error, terminal_error).",
      labelNames: ["controller", "result"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "vigil_operator_reconcile_duration_seconds",
      help: "Time spent in one reconcile.",
      labelNames: ["controller"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "vigil_operator_workqueue_depth",
      help: "Keys ready and waiting for a worker.",
      labelNames: ["controller"],
      registers: [registry],
    }),
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}

export interface ControllerOptions {
  /** Controller name (metrics label), e.g. `accesspolicy`. */
  name: string;
  /** Resource kind for log lines, e.g. `AccessPolicy`. */
  kind: string;
  reconciler: Reconciler;
  log: Logger;
  registry: Registry;
  /** Parallel workers (distinct keys only). Default 2. */
  concurrency?: number;
  queue?: Omit<WorkQueueOptions, "onDepth">;
}

/** A work queue plus N workers that run a Reconciler under the contract above. */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #kind: string;
  readonly #reconciler: Reconciler;
  readonly #log: Logger;
  readonly #metrics: ControllerMetrics;
  readonly #concurrency: number;
  readonly #abort = new AbortController();
  #workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#kind = options.kind;
    this.#reconciler = options.reconciler;
    this.#log = options.log.child({ controller: options.name });
    this.#metrics = controllerMetrics(options.registry);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
    const gauge = this.#metrics.queueDepth.labels({ controller: options.name });
    gauge.set(0);
    this.queue = new WorkQueue({
      ...options.queue,
      onDepth: (depth) => {
        gauge.set(depth);
      },
    });
  }

  /** Queue a key (e.g. from an informer handler). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queue a key behind every other change (a resync; the work queue's low priority). */
  enqueueLow(key: string): void {
    this.queue.addLow(key);
  }

  /** Start the workers. Idempotent. */
  start(): void {
    if (this.#workers.length > 0) return;
    for (let i = 0; i < this.#concurrency; i++) this.#workers.push(this.#work());
  }

  /**
   * Stop: no new keys accepted. `drain: true` (default) finishes queued keys first; `drain: false` drops them.
   * `abort` (default: `!drain`) aborts `ctx.signal` of running reconciles — use it when leadership is lost.
   * Resolves when no reconcile is running.
   */
  async stop(options: { drain?: boolean; abort?: boolean } = {}): Promise<void> {
    const drain = options.drain ?? true;
    if (options.abort ?? !drain) this.#abort.abort(new Error("controller stopping"));
    const drained = this.queue.shutDown({ drain });
    await Promise.all(this.#workers);
    await drained;
  }

  /** Take one key, reconcile it and settle its fate. Returns false once the queue is shut down. */
  async processNextKey(): Promise<boolean> {
    const key = await this.queue.get();
    if (key === undefined) return false;
    try {
      await this.#reconcileOne(key);
    } finally {
      this.queue.done(key);
    }
    return true;
  }

  async #work(): Promise<void> {
    while (await this.processNextKey()) {
      // keep going until shut down
    }
  }

  async #reconcileOne(key: string): Promise<ReconcileOutcome> {
    const reconcileId = randomUUID();
    const { namespace, name } = splitKey(key);
    const log = withResource(this.#log, { kind: this.#kind, namespace, name }, reconcileId);
    const started = process.hrtime.bigint();
    let outcome: ReconcileOutcome;
    try {
      const result = await this.#reconciler.reconcile(key, { log, reconcileId, signal: this.#abort.signal });
      outcome = settle(this.queue, key, { result });
      if (outcome === "requeue_after") log.debug({ requeueAfterMs: result.requeueAfterMs }, "reconciled; requeue after");
      else log.debug("reconciled");
    } catch (err) {
      outcome = settle(this.queue, key, { error: err });
      if (outcome === "terminal_error") log.error(errorFields(err), "reconcile failed terminally; not retrying");
      else log.warn({ ...errorFields(err), retries: this.queue.numRequeues(key) }, "reconcile failed; will retry");
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.#metrics.reconcileDuration.observe({ controller: this.name }, seconds);
    this.#metrics.reconcileTotal.inc({ controller: this.name, result: outcome });
    return outcome;
  }
}

/** The reconcileHandler switch: apply one reconcile's outcome to the queue. */
export function settle(queue: WorkQueue, key: string, outcome: { result: Result } | { error: unknown }): ReconcileOutcome {
  if ("error" in outcome) {
    if (isTerminalError(outcome.error)) {
      queue.forget(key);
      return "terminal_error";
    }
    queue.addRateLimited(key);
    return "error";
  }
  const after = outcome.result.requeueAfterMs;
  queue.forget(key);
  if (after !== undefined && Number.isFinite(after) && after > 0) {
    queue.addAfter(key, after);
    return "requeue_after";
  }
  return "success";
}
