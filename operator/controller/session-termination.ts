/**
 * The SessionTermination reconciler: level-triggered; everything derives from the object (spec, the plan
 * annotation, status) and the bus, so a restart or a new leader picks up exactly where the last one stopped.
 * The SessionTermination is the revocation's home of record: the bus can lose it, the controller puts it back.
 *
 *   gone or being deleted        → LIFT its revocation (a signed lift on the bus: sidecars stop refusing the
 *                                  identity). Deleting a SessionTermination is how a revocation is lifted early.
 *   finished (Completed/Failed)  → late acknowledgements update the counts (Failed → Completed once every live
 *                                  sidecar answered); `ttlSecondsAfterFinished` deletes it at completionTime + ttl,
 *                                  but never before its revocation expires (TTL must not lift a revocation)
 *   target unresolvable          → Failed / InvalidTarget (the CRD's CEL rules normally prevent this)
 *   publish                      → publishRevocation(id `<ns>/<name>/<uid>`, tokensIssuedBefore = creationTimestamp
 *                                  + the clock-skew allowance, expiresAt = the plan's, else creationTimestamp +
 *                                  (revokeFor || the longest absolute session timeout among the namespace's
 *                                  policies || 8h)): signed revocation entry and event; idempotent by content
 *   no plan annotation yet       → fix the plan right after the first publish: startedAt = now, that expiresAt,
 *                                  expected sidecars = live heartbeats of the namespace now (termination-plan.ts)
 *   progress                     → acks + live heartbeats → Propagating / Completed / Failed (after the timeout,
 *                                  naming the silent sidecars); every sidecar live now must answer, and nothing
 *                                  completes within `registrationGraceMs` of a bus rebuild; poll with requeueAfter,
 *                                  never block (acknowledgements also wake it through the ack stream).
 * Redis down → phase Pending, Ready=False/BusUnavailable, Event, retry with backoff.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { oncePerObject } from "../../lib/memo.ts";
import { TERMINATION_PLAN_ANNOTATION } from "../api/annotations.ts";
import { tryParseDuration } from "../api/duration.ts";
import { GROUP, SESSION_TERMINATION, VERSION, type AccessPolicy, type SessionTermination } from "../api/v1alpha1/index.ts";
import type { Ack, Revocation, TerminationSelector } from "../api/bus/messages.ts";
import type { PublishResult } from "../bus/publisher.ts";
import { TerminalError, describeError, isNotFound } from "../errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import { guardedPatch, resourceVersionTest, type JsonPatchOp } from "../kube/guarded-patch.ts";
import type { Informer } from "../kube/informer.ts";
import { splitKey } from "../kube/keys.ts";
import { getCustomObject, updateStatus, type CustomObjectRef } from "../kube/status.ts";
import { isBusError, type BusContext } from "./bus-context.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";
import {
  DEFAULT_ABSOLUTE_TIMEOUT_SECONDS,
  decodePlan,
  encodePlan,
  makePlan,
  parseTime,
  revocationLifetimeMs,
  terminationProgress,
  terminationSelector,
  type Progress,
  type TerminationPlan,
} from "./termination-plan.ts";
import { TERMINATION_REASONS, desiredTerminationStatus, invalidTargetStatus, isFinished, mayRaiseCounts, pendingStatus } from "./termination-status.ts";

export interface SessionTerminationReconcilerOptions {
  terminations: Informer<SessionTermination>;
  /** AccessPolicies (for the longest absolute session timeout of the namespace). */
  policies: Informer<AccessPolicy>;
  api: CustomObjectsApi;
  bus: BusContext;
  events: EventRecorder;
  ensureRevisionFloor: () => void;
  terminationTimeoutMs: number;
  /** Added to the creation time: tokens issued up to then are refused. */
  revocationClockSkewMs: number;
  /** After a bus rebuild, sidecars get this long to re-register before a termination may complete. Default 10 s. */
  registrationGraceMs?: number;
  /** The session key of a session ID (from its sealed record in Redis), undefined when unknown. */
  sessionKeyOf?: (sessionId: string) => Promise<string | undefined>;
  /** Poll interval for acknowledgements. Default 1000 ms. */
  pollMs?: number;
}

export function terminationRef(namespace: string, name: string): CustomObjectRef {
  return { group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural, namespace, name };
}

export function terminationId(t: SessionTermination): string {
  return `${t.metadata.namespace ?? ""}/${t.metadata.name ?? ""}/${t.metadata.uid ?? ""}`;
}

/**
 * The revocation of a termination, or undefined when its target does not resolve. Tokens issued (and sessions
 * started) up to min(creationTimestamp, spec.cutoffTime) + `skewMs` are refused; `expiresAt` is the plan's once a plan exists, else creationTimestamp +
 * `lifetimeMs` (no session that existed at creation outlives its absolute timeout from then). A session target
 * carries its session key (the plan's, else `sessionKey`), so the login stays covered if Redis loses its index.
 */
export function revocationOf(t: SessionTermination, skewMs: number, lifetimeMs?: number, sessionKey?: string): Revocation | undefined {
  const plan = decodePlan(t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]);
  const target = terminationSelector(t.spec.target);
  const created = parseTime(t.metadata.creationTimestamp);
  const cutoff = parseTime(t.spec.cutoffTime);
  if (!target.ok || created === undefined) return undefined;
  const issuedAt = Math.min(created, cutoff ?? created);
  const expiresAt = plan?.expiresAt ?? (lifetimeMs === undefined ? undefined : created + lifetimeMs);
  if (expiresAt === undefined) return undefined;
  const key = plan?.sessionKey ?? sessionKey;
  const selector =
    target.selector.kind === "session" && key !== undefined && target.selector.sessionKey === undefined
      ? { ...target.selector, sessionKey: key }
      : target.selector;
  return {
    id: terminationId(t),
    namespace: t.metadata.namespace ?? "",
    selector,
    reason: t.spec.reason,
    tokensIssuedBefore: issuedAt + skewMs,
    expiresAt,
  };
}

/** Whether a change to this cached termination needs a reconcile (a finished one without TTL never does). */
export function needsReconcile(t: SessionTermination | undefined): boolean {
  return t === undefined || !isFinished(t.status) || t.spec.ttlSecondsAfterFinished !== undefined;
}

/**
 * The absolute session timeout (seconds) of each policy object, parsed once: the informer replaces a cached object
 * on every change and never mutates it, so an object's timeout never changes.
 */
const absoluteTimeoutOf = oncePerObject((p: AccessPolicy): number => {
  const parsed = tryParseDuration(p.spec.session?.absoluteTimeout ?? "8h");
  return parsed.ok ? parsed.seconds : DEFAULT_ABSOLUTE_TIMEOUT_SECONDS;
});

/** Absolute session timeouts (seconds) of the cached AccessPolicies of `namespace` (8h where unset). */
export function absoluteTimeoutsIn(policies: Pick<Informer<AccessPolicy>, "list">, namespace: string): number[] {
  return policies.list(namespace).map(absoluteTimeoutOf);
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

function planPatch(obj: SessionTermination, plan: TerminationPlan): JsonPatchOp[] | undefined {
  const annotations = obj.metadata.annotations;
  if (decodePlan(annotations?.[TERMINATION_PLAN_ANNOTATION]) !== undefined) return undefined;
  const op: JsonPatchOp =
    annotations === undefined
      ? { op: "add", path: "/metadata/annotations", value: { [TERMINATION_PLAN_ANNOTATION]: encodePlan(plan) } }
      : { op: "add", path: `/metadata/annotations/${escapePointer(TERMINATION_PLAN_ANNOTATION)}`, value: encodePlan(plan) };
  return [resourceVersionTest(obj), op];
}

export class SessionTerminationReconciler implements Reconciler {
  readonly #o: SessionTerminationReconcilerOptions;

  constructor(options: SessionTerminationReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<Result> {
    this.#o.ensureRevisionFloor();
    const { namespace, name } = splitKey(key);
    const ref = terminationRef(namespace, name);
    const cached = this.#o.terminations.get(key);
    if (cached === undefined || cached.metadata.deletionTimestamp !== undefined) return this.#lift(namespace, name, ctx);
    if (isFinished(cached.status)) return this.#finished(cached, ref, ctx);
    const generation = cached.metadata.generation ?? 0;
    const target = terminationSelector(cached.spec.target);
    if (!target.ok) {
      await updateStatus(this.#o.api, ref, (cur) => invalidTargetStatus(cur.status, generation, target.message, new Date()), { initial: cached });
      await this.#o.events.audit(cached, "termination.invalid_target", target.message);
      return {};
    }
    const lifetime = revocationLifetimeMs(cached.spec.revokeFor, absoluteTimeoutsIn(this.#o.policies, namespace));
    const sessionKey = await this.#sessionKeyOf(cached, target.selector);
    const record = revocationOf(cached, this.#o.revocationClockSkewMs, lifetime, sessionKey);
    if (record === undefined) throw new TerminalError("termination has no creationTimestamp");
    let planned: [SessionTermination, TerminationPlan] | undefined;
    let published: PublishResult;
    try {
      published = await this.#o.bus.publish("termination", () => this.#o.bus.publisher.publishRevocation(record));
      planned = await this.#plan(cached, ref, record.expiresAt, sessionKey);
    } catch (err) {
      if (!isBusError(err)) throw err;
      const message = `the policy bus (Redis) is unavailable; retrying: ${describeError(err)}`;
      await updateStatus(this.#o.api, ref, (cur) => pendingStatus(cur.status, generation, TERMINATION_REASONS.BusUnavailable, message, new Date()), {
        initial: cached,
      });
      await this.#o.events.audit(cached, "bus.unavailable", message);
      throw err;
    }
    if (planned === undefined) return {};
    const [termination, plan] = planned;
    if (published.changed) ctx.log.info({ busRevision: published.revision, expected: plan.expected.length }, "termination published");
    return this.#progress(termination, ref, plan, published, ctx);
  }

  /**
   * The object with its plan (written now, right after the first publish, if it had none), or undefined when the
   * object is gone. The expected sidecars are the ones live now (read fresh, not from the short cache).
   */
  async #plan(
    t: SessionTermination,
    ref: CustomObjectRef,
    expiresAt: number,
    sessionKey: string | undefined,
  ): Promise<[SessionTermination, TerminationPlan] | undefined> {
    const existing = decodePlan(t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]);
    if (existing !== undefined) return [t, existing];
    const live = await this.#o.bus.liveSidecars({ fresh: true });
    const plan = makePlan(
      this.#o.bus.now(),
      expiresAt,
      live.filter((h) => h.namespace === ref.namespace).map((h) => h.pod),
      sessionKey,
    );
    const result = await guardedPatch({
      what: `plan of ${ref.namespace}/${ref.name}`,
      read: () => getCustomObject<SessionTermination>(this.#o.api, ref),
      initial: t,
      build: (cur) => planPatch(cur, plan),
      apply: async (patch) => (await this.#o.api.patchNamespacedCustomObject({ ...ref, body: patch })) as SessionTermination,
    });
    if (result.object === undefined) return undefined;
    const written = result.object;
    const stored = decodePlan(written.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]);
    return stored === undefined ? undefined : [written, stored];
  }

  /** Before the plan is fixed, a session target's key from its sealed record (the plan keeps it afterwards). */
  async #sessionKeyOf(t: SessionTermination, selector: TerminationSelector): Promise<string | undefined> {
    if (selector.kind !== "session" || this.#o.sessionKeyOf === undefined) return undefined;
    if (decodePlan(t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]) !== undefined) return undefined;
    return this.#o.sessionKeyOf(selector.sessionId);
  }

  /** The termination is gone (or going): lift its revocation on the bus. */
  async #lift(namespace: string, name: string, ctx: ReconcileContext): Promise<Result> {
    const lifted = await this.#o.bus.publish("lift", () => this.#o.bus.publisher.liftRevocationsOf(namespace, name));
    if (lifted.changed) ctx.log.info({ busRevision: lifted.revision }, "termination deleted: its revocation is lifted");
    return {};
  }

  /** This termination's acknowledgements and the live sidecars, of its namespace. */
  async #readBus(t: SessionTermination, ref: CustomObjectRef): Promise<{ acks: Ack[]; live: Set<string> }> {
    const [acks, live] = await Promise.all([this.#o.bus.publisher.readAcks(terminationId(t)), this.#o.bus.liveSidecars()]);
    return {
      acks: acks.filter((a) => a.namespace === ref.namespace),
      live: new Set(live.filter((h) => h.namespace === ref.namespace).map((h) => h.pod)),
    };
  }

  #progressOf(plan: TerminationPlan, bus: { acks: Ack[]; live: Set<string> }): Progress {
    return terminationProgress({
      plan,
      now: this.#o.bus.now(),
      timeoutMs: this.#o.terminationTimeoutMs,
      acks: bus.acks,
      live: bus.live,
      settledAt: this.#o.bus.registrySettledAt(this.#o.registrationGraceMs ?? 10_000),
    });
  }

  /**
   * Late acknowledgements of a finished termination, then its TTL. The cache keeps a finished termination's summary
   * only (kube/transforms.ts): when acknowledgements could raise its counts, the status is computed from the object
   * as stored (read first), with its whole plan.
   */
  async #finished(t: SessionTermination, ref: CustomObjectRef, ctx: ReconcileContext): Promise<Result> {
    if (decodePlan(t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]) === undefined) return this.#expire(t, ref, ctx);
    const bus = await this.#readBus(t, ref);
    if (!mayRaiseCounts(t.status, bus.acks)) return this.#expire(t, ref, ctx);
    let progress: Progress | undefined;
    const result = await updateStatus<SessionTermination>(this.#o.api, ref, (cur) => {
      const plan = decodePlan(cur.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION]);
      if (plan === undefined) return cur.status;
      progress = this.#progressOf(plan, bus);
      const facts = {
        namespace: ref.namespace,
        generation: cur.metadata.generation ?? 0,
        busRevision: cur.status?.busRevision ?? 0,
        startedAt: plan.startedAt,
        progress,
      };
      return desiredTerminationStatus(cur.status, facts, new Date());
    });
    if (result.changed && progress !== undefined)
      ctx.log.info(
        { acknowledged: progress.acknowledged, sessions: progress.sessionsTerminated, connections: progress.connectionsClosed },
        "late acknowledgements counted",
      );
    return this.#expire(result.object ?? t, ref, ctx);
  }

  async #progress(t: SessionTermination, ref: CustomObjectRef, plan: TerminationPlan, published: PublishResult, ctx: ReconcileContext): Promise<Result> {
    const busRevision = published.revision;
    const progress = this.#progressOf(plan, await this.#readBus(t, ref));
    const generation = t.metadata.generation ?? 0;
    const transition = { finishedNow: false };
    const result = await updateStatus(
      this.#o.api,
      ref,
      (cur) => {
        const before = cur.status;
        const next = desiredTerminationStatus(before, { namespace: ref.namespace, generation, busRevision, startedAt: plan.startedAt, progress }, new Date());
        transition.finishedNow = !isFinished(before) && isFinished(next);
        return next;
      },
      { initial: t },
    );
    if (result.object === undefined) return {};
    const after = result.object;
    if (result.changed && transition.finishedNow) {
      const status = after.status ?? {};
      if (status.phase === "Completed") {
        ctx.log.info({ sessions: status.sessionsTerminated, connections: status.connectionsClosed }, "termination completed");
        await this.#o.events.audit(
          after,
          "termination.completed",
          `${status.sidecarsAcknowledged ?? 0} of ${status.sidecarsExpected ?? 0} sidecar(s) acknowledged: ${status.sessionsTerminated ?? 0} session(s) terminated, ${status.connectionsClosed ?? 0} connection(s) closed`,
        );
      } else {
        ctx.log.warn({ unresponsive: status.unresponsiveSidecars }, "termination failed: sidecars did not acknowledge");
        await this.#o.events.audit(after, "termination.failed", `sidecar(s) never acknowledged: ${(status.unresponsiveSidecars ?? []).join(", ")}`);
      }
    }
    if (isFinished(after.status)) return this.#expire(after, ref, ctx);
    if (published.changed) {
      await this.#o.events.audit(
        after,
        "termination.published",
        `revocation and termination published at bus revision ${busRevision}; waiting for ${plan.expected.length} sidecar(s)`,
      );
    }
    return { requeueAfterMs: Math.max(50, Math.min(this.#o.pollMs ?? 1000, progress.remainingMs)) };
  }

  /**
   * `ttlSecondsAfterFinished`: delete once completionTime + ttl has passed AND the revocation has expired (deleting
   * lifts the revocation, and a TTL must never do that early); requeue until then.
   */
  async #expire(t: SessionTermination, ref: CustomObjectRef, ctx: ReconcileContext): Promise<Result> {
    const ttl = t.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return {};
    const finishedAt = parseTime(t.status?.completionTime) ?? this.#o.bus.now();
    const revocationEnds = decodePlan(t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION])?.expiresAt ?? 0;
    const wait = Math.max(finishedAt + ttl * 1000, revocationEnds) - this.#o.bus.now();
    if (wait > 0) return { requeueAfterMs: wait };
    try {
      await this.#o.api.deleteNamespacedCustomObject({ ...ref, body: { preconditions: { uid: t.metadata.uid ?? "" } } });
      ctx.log.info({ ttlSecondsAfterFinished: ttl }, "finished termination deleted after its TTL");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return {};
  }
}
