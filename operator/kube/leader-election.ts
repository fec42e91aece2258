/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go `tools/leaderelection` semantics.
 *
 * Record: holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions. A candidate takes the
 * lease when it is free (empty holder), ours, or expired — "expired" judged on the LOCAL clock: the same record
 * (same resourceVersion) has been observed unchanged for its leaseDurationSeconds (no trust in remote clocks).
 * Every write is a replace carrying the read resourceVersion (optimistic concurrency: a 409 loses the race).
 *
 * While leading, the lease is renewed every retryPeriod. A watchdog fires `renewDeadline` after the START of the
 * last successful renew; if no renew succeeded by then, leadership is given up at once (`onStoppedLeading`) even
 * if a request is still hanging. Others can only take over `leaseDuration` after they observed that renew, which
 * is later than it started, so with renewDeadline < leaseDuration the old leader has stopped before anyone else
 * starts. (No fencing beyond that, as in client-go: keep writes idempotent and generation-checked.)
 *
 * Graceful stop (the `run` signal aborted while leading): `onStoppedLeading` is awaited (stop acting first), then
 * the lease is released (holder emptied, leaseDurationSeconds 1) so a standby takes over on its next retry.
 * After leadership ends, `run` resolves; a process that lost its lease should exit and start afresh.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";
import { errorFields, isConflict, isNotFound } from "../errors.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/sleep.ts";
import { cryptoUnit } from "../controller/backoff.ts";

export interface LeaderElectionOptions {
  kc: KubeConfig;
  leaseName: string;
  leaseNamespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  /** Called once on becoming leader; `signal` aborts when leadership ends for any reason. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called once when leadership ends (lost, or before release on graceful stop, where it is awaited). */
  onStoppedLeading: () => void | Promise<void>;
  /** Called when the observed holder changes (including to us). */
  onNewLeader?: (identity: string) => void;
  /** Release the lease when `run`'s signal aborts. Default true. */
  releaseOnCancel?: boolean;
  random?: () => number;
}

type Attempt = "acquired" | "held" | "failed";

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #api: CoordinationV1Api;
  readonly #log: Logger;
  readonly #random: () => number;
  #observedRv = "";
  #observedAt = 0;
  #observedHolder = "";
  #leading = false;
  #lease: V1Lease | undefined;

  constructor(options: LeaderElectionOptions) {
    if (!(options.renewDeadlineMs < options.leaseDurationMs)) throw new RangeError("renewDeadline must be < leaseDuration");
    if (!(options.retryPeriodMs < options.renewDeadlineMs)) throw new RangeError("retryPeriod must be < renewDeadline");
    this.#o = options;
    this.#api = options.kc.makeApiClient(CoordinationV1Api);
    this.#log = options.log.child({ lease: `${options.leaseNamespace}/${options.leaseName}`, identity: options.identity });
    this.#random = options.random ?? cryptoUnit;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last observed on the Lease ("" if none). */
  observedLeader(): string {
    return this.#observedHolder;
  }

  /** Acquire, lead until the signal aborts or the lease is lost, then resolve. */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.#acquire(signal))) return;
    this.#leading = true;
    const leadAbort = new AbortController();
    this.#log.info("became leader");
    try {
      this.#o.onStartedLeading(leadAbort.signal);
    } catch (err) {
      this.#log.error(errorFields(err), "onStartedLeading threw");
    }
    const lost = await this.#renewLoop(signal);
    this.#leading = false;
    leadAbort.abort(new Error(lost ? "leadership lost" : "stopping"));
    if (lost) {
      this.#log.warn("lost leadership: lease not renewed within the renew deadline or taken over");
      this.#stopped();
      return;
    }
    await this.#stoppedAwaited();
    if (this.#o.releaseOnCancel ?? true) await this.#release();
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#log.info("waiting to acquire lease");
    while (!signal.aborted) {
      const result = await this.#tryAcquireOrRenew();
      if (result === "acquired") return true;
      const delay = this.#o.retryPeriodMs * (1 + 1.2 * this.#random());
      await sleep(delay, signal);
    }
    return false;
  }

  /** Returns true if leadership was lost, false if the signal asked us to stop. */
  async #renewLoop(signal: AbortSignal): Promise<boolean> {
    const state = { lost: false };
    let lostResolve: () => void = () => undefined;
    const lostPromise = new Promise<"lost">((resolve) => {
      lostResolve = () => {
        resolve("lost");
      };
    });
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const arm = (renewStartedAt: number): void => {
      if (watchdog !== undefined) clearTimeout(watchdog);
      const remaining = renewStartedAt + this.#o.renewDeadlineMs - Date.now();
      watchdog = setTimeout(
        () => {
          state.lost = true;
          lostResolve();
        },
        Math.max(0, remaining),
      );
    };
    arm(this.#lastSuccessStartedAt);
    const stopping = (): boolean => signal.aborted;
    const lost = (): boolean => state.lost;
    try {
      while (!stopping() && !lost()) {
        const woke = await Promise.race([sleep(this.#o.retryPeriodMs, signal).then(() => "slept" as const), lostPromise]);
        if (woke === "lost" || stopping()) break;
        const startedAt = Date.now();
        const result = await Promise.race([this.#tryAcquireOrRenew(), lostPromise]);
        if (result === "lost" || lost()) break;
        if (result === "acquired") arm(startedAt);
        else if (result === "held") state.lost = true;
      }
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog);
    }
    return state.lost;
  }

  #lastSuccessStartedAt = 0;

  async #tryAcquireOrRenew(): Promise<Attempt> {
    const startedAt = Date.now();
    const { leaseName: name, leaseNamespace: namespace } = this.#o;
    let current: V1Lease;
    try {
      current = await this.#api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return this.#create(startedAt);
      this.#log.warn(errorFields(err), "reading lease failed");
      return "failed";
    }
    this.#observe(current, startedAt);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const recordDurationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationSeconds()) * 1000;
    if (holder !== "" && holder !== this.#o.identity && this.#observedAt + recordDurationMs > Date.now()) return "held";
    const body = leaseBody(name, namespace, current.metadata?.resourceVersion, nextRecord(spec, this.#o.identity, this.#leaseDurationSeconds(), startedAt));
    try {
      const updated = await this.#api.replaceNamespacedLease({ name, namespace, body });
      this.#observe(updated, startedAt);
      this.#lastSuccessStartedAt = startedAt;
      return "acquired";
    } catch (err) {
      if (isConflict(err)) this.#log.debug("lease changed under us (409)");
      else this.#log.warn(errorFields(err), "updating lease failed");
      return "failed";
    }
  }

  #leaseDurationSeconds(): number {
    return Math.ceil(this.#o.leaseDurationMs / 1000);
  }

  async #create(startedAt: number): Promise<Attempt> {
    const { leaseName: name, leaseNamespace: namespace } = this.#o;
    try {
      const record = nextRecord({}, this.#o.identity, this.#leaseDurationSeconds(), startedAt);
      const created = await this.#api.createNamespacedLease({ namespace, body: leaseBody(name, namespace, undefined, { ...record, leaseTransitions: 0 }) });
      this.#observe(created, startedAt);
      this.#lastSuccessStartedAt = startedAt;
      return "acquired";
    } catch (err) {
      if (!isConflict(err)) this.#log.warn(errorFields(err), "creating lease failed");
      return "failed";
    }
  }

  #observe(lease: V1Lease, at: number): void {
    this.#lease = lease;
    const rv = lease.metadata?.resourceVersion ?? "";
    const holder = lease.spec?.holderIdentity ?? "";
    if (rv !== this.#observedRv) {
      this.#observedRv = rv;
      this.#observedAt = at;
    }
    if (holder !== this.#observedHolder) {
      this.#observedHolder = holder;
      if (holder !== "") this.#o.onNewLeader?.(holder);
    }
  }

  #stopped(): void {
    try {
      void Promise.resolve(this.#o.onStoppedLeading()).catch((err: unknown) => {
        this.#log.error(errorFields(err), "onStoppedLeading failed");
      });
    } catch (err) {
      this.#log.error(errorFields(err), "onStoppedLeading threw");
    }
  }

  async #stoppedAwaited(): Promise<void> {
    try {
      await this.#o.onStoppedLeading();
    } catch (err) {
      this.#log.error(errorFields(err), "onStoppedLeading failed");
    }
  }

  /** Give the lease up: empty holder, 1 s duration, so a standby acquires on its next attempt. */
  async #release(): Promise<void> {
    const { leaseName: name, leaseNamespace: namespace, identity } = this.#o;
    try {
      const current = await this.#api.readNamespacedLease({ name, namespace });
      if ((current.spec?.holderIdentity ?? "") !== identity) return;
      const now = new V1MicroTime(Date.now());
      const record: LeaseRecord = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: current.spec?.leaseTransitions ?? 0,
      };
      await this.#api.replaceNamespacedLease({ name, namespace, body: leaseBody(name, namespace, current.metadata?.resourceVersion, record) });
      this.#log.info("released lease");
    } catch (err) {
      this.#log.warn(errorFields(err), "releasing lease failed; standby takes over after the lease duration");
    }
  }

  /** The Lease as last read or written (for tests and diagnostics). */
  lastObservedLease(): V1Lease | undefined {
    return this.#lease;
  }
}

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: V1MicroTime;
  renewTime: V1MicroTime;
  leaseTransitions: number;
}

/** The record a candidate writes over `spec` (client-go: keep acquireTime and transitions when already ours). */
export function nextRecord(spec: V1LeaseSpec, identity: string, leaseDurationSeconds: number, nowMs: number): LeaseRecord {
  const ours = (spec.holderIdentity ?? "") === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    renewTime: new V1MicroTime(nowMs),
    acquireTime: ours ? toMicroTime(spec.acquireTime, nowMs) : new V1MicroTime(nowMs),
    leaseTransitions: ours ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
  };
}

function leaseBody(name: string, namespace: string, resourceVersion: string | undefined, record: LeaseRecord): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: resourceVersion === undefined ? { name, namespace } : { name, namespace, resourceVersion },
    spec: record,
  };
}

function toMicroTime(value: unknown, fallbackMs: number): V1MicroTime {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
  return new V1MicroTime(Number.isFinite(ms) ? ms : fallbackMs);
}
