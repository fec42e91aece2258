/**
 * The AccessPolicy reconciler: level-triggered and idempotent. It reads the current object from the informer
 * cache (never the event), and drives the bus and the status towards it:
 *
 *   gone from the cache          → remove it from the bus (a no-op when already removed)
 *   being deleted                → remove it from the bus FIRST, then release the finalizer; Redis down → the
 *                                  finalizer stays, Ready=False/BusUnavailable, retry with backoff
 *   compile problems             → add the finalizer if missing; remove from the bus if it was there;
 *                                  Accepted=False (first problem's reason, every problem listed),
 *                                  Ready=False/Rejected; Event Warning Rejected
 *   compiled                     → upsertPolicy FIRST (unchanged hash → no new revision), then add the finalizer if
 *                                  missing (an API round trip kept off the path of enforcement: see
 *                                  #withFinalizer, docs/decisions/perf-0005); Accepted=True, Ready=True/
 *                                  Published at busRevision, Degraded for warnings or a selector matching no pod;
 *                                  selected/enforcing sidecars from live heartbeats; requeue every
 *                                  `convergeRequeueMs` while some selected sidecar has not applied busRevision.
 * Status is patched only when it changed (kube/status.ts). Events: Published, Rejected, BusUnavailable.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { VIGIL_FINALIZER } from "../api/annotations.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { ACCESS_POLICY, GROUP, VERSION, type AccessPolicy } from "../api/v1alpha1/index.ts";
import { describeError, errorFields } from "../errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../kube/finalizer.ts";
import type { Informer } from "../kube/informer.ts";
import { splitKey } from "../kube/keys.ts";
import type { CachedPod } from "../kube/transforms.ts";
import { updateStatus, type CustomObjectRef } from "../kube/status.ts";
import { compileOnce } from "../policy/compile-once.ts";
import { selects as selectorMatches } from "../api/label-selector.ts";
import { isBusError, type BusContext } from "./bus-context.ts";
import { deletionBlockedStatus, desiredPolicyStatus, listFindings, type BusOutcome, type PolicyObservation } from "./policy-status.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";

export interface AccessPolicyReconcilerOptions {
  policies: Informer<AccessPolicy>;
  /** Pods of the watched namespaces, for the "selector matches no pod" warning; absent: not checked. */
  /** Cached Pods: labels only (kube/transforms.ts). */
  pods?: Informer<CachedPod> | undefined;
  api: CustomObjectsApi;
  bus: BusContext;
  events: EventRecorder;
  /** Raises the bus revision floor from statuses before the first publish (idempotent, cheap). */
  ensureRevisionFloor: () => void;
  /** Requeue while not every selected sidecar enforces the published revision. Default 2000 ms. */
  convergeRequeueMs?: number;
}

export function policyRef(namespace: string, name: string): CustomObjectRef {
  return { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural, namespace, name };
}

/** Keys of the cached policies in the namespace of `podKey` (pods of that namespace changed). */
export function policyKeysInNamespace(policies: Informer<AccessPolicy>, podKey: string): string[] {
  return policies.keys(splitKey(podKey).namespace);
}

export class AccessPolicyReconciler implements Reconciler {
  readonly #o: AccessPolicyReconcilerOptions;
  /**
   * Whether the policy (the cached object: replaced, never mutated, on a change) selects any cached pod, as of the
   * pod cache's contentVersion. Every resync reconciles every policy; without this each one scanned every pod of its
   * namespace (1,200 policies × 5,000 pods every resync period was the operator's largest CPU cost at scale).
   */
  readonly #podMatches = new WeakMap<AccessPolicy, { version: number; matches: boolean }>();

  constructor(options: AccessPolicyReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<Result> {
    this.#o.ensureRevisionFloor();
    const { namespace, name } = splitKey(key);
    const ref = policyRef(namespace, name);
    const cached = this.#o.policies.get(key);
    const publisher = this.#o.bus.publisher;
    if (cached === undefined) {
      const removed = await this.#o.bus.publish("delete", () => publisher.deletePolicy(namespace, name));
      if (removed.changed) ctx.log.info({ busRevision: removed.revision }, "policy gone: removed from the bus");
      return {};
    }
    if (cached.metadata.deletionTimestamp !== undefined) return this.#finalize(cached, ref, ctx);
    const compiled = compileOnce(cached);
    if (!compiled.ok) {
      const policy = await this.#withFinalizer(cached, ref);
      if (policy === undefined) return {};
      if (policy.metadata.deletionTimestamp !== undefined) return this.#finalize(policy, ref, ctx);
      return this.#reject(policy, ref, compiled.problems, compiled.warnings, ctx);
    }
    return this.#publish(cached, ref, compiled.policy, compiled.warnings, ctx);
  }

  /**
   * The policy with our finalizer (added if missing; undefined when the policy is gone). A policy is published
   * BEFORE its finalizer is added (the API round trip is not on the path of enforcement): if it is deleted in
   * between, the deletion's event reconciles it again (gone → removed from the bus), and if the operator stops in
   * between, the bus controller's sync removes what has no resource.
   */
  async #withFinalizer(policy: AccessPolicy, ref: CustomObjectRef): Promise<AccessPolicy | undefined> {
    if (hasFinalizer(policy, VIGIL_FINALIZER)) return policy;
    return addFinalizer(this.#o.api, ref, VIGIL_FINALIZER, { initial: policy });
  }

  async #finalize(policy: AccessPolicy, ref: CustomObjectRef, ctx: ReconcileContext): Promise<Result> {
    if (!hasFinalizer(policy, VIGIL_FINALIZER)) return {};
    try {
      const removed = await this.#o.bus.publish("delete", () => this.#o.bus.publisher.deletePolicy(ref.namespace, ref.name));
      ctx.log.info({ busRevision: removed.revision, changed: removed.changed }, "deleting: policy removed from the bus");
    } catch (err) {
      if (!isBusError(err)) throw err;
      const error = describeError(err);
      const generation = policy.metadata.generation ?? 0;
      await updateStatus(this.#o.api, ref, (cur) => deletionBlockedStatus(cur.status, generation, error, new Date()), { initial: policy });
      await this.#o.events.audit(policy, "bus.unavailable", `cannot remove the policy from the policy bus; the finalizer stays until it succeeds: ${error}`);
      throw err;
    }
    await removeFinalizer(this.#o.api, ref, VIGIL_FINALIZER, { initial: policy });
    return {};
  }

  async #reject(
    policy: AccessPolicy,
    ref: CustomObjectRef,
    problems: PolicyObservation["problems"],
    warnings: PolicyObservation["warnings"],
    ctx: ReconcileContext,
  ): Promise<Result> {
    let bus: BusOutcome;
    let busError: Error | undefined;
    try {
      const removed = await this.#o.bus.publish("delete", () => this.#o.bus.publisher.deletePolicy(ref.namespace, ref.name));
      if (removed.changed) ctx.log.info({ busRevision: removed.revision }, "rejected policy removed from the bus");
      bus = { ok: true, revision: removed.revision };
    } catch (err) {
      if (!isBusError(err)) throw err;
      busError = err;
      bus = { ok: false, error: describeError(err) };
    }
    const obs: PolicyObservation = { generation: policy.metadata.generation ?? 0, problems, warnings, bus };
    await updateStatus(this.#o.api, ref, (cur) => desiredPolicyStatus(cur.status, obs, new Date()), { initial: policy });
    ctx.log.info({ problems: problems.map((p) => p.reason) }, "policy rejected");
    await this.#o.events.audit(policy, "policy.rejected", listFindings(problems));
    if (busError !== undefined) {
      await this.#o.events.audit(policy, "bus.unavailable", `cannot remove the rejected policy from the policy bus: ${describeError(busError)}`);
      throw busError;
    }
    return {};
  }

  async #publish(
    policy: AccessPolicy,
    ref: CustomObjectRef,
    compiled: CompiledPolicy,
    warnings: PolicyObservation["warnings"],
    ctx: ReconcileContext,
  ): Promise<Result> {
    const generation = policy.metadata.generation ?? 0;
    let revision: number;
    try {
      const published = await this.#o.bus.publish("upsert", () => this.#o.bus.publisher.upsertPolicy(compiled));
      revision = published.revision;
      if (published.changed) {
        ctx.log.info({ busRevision: revision, generation }, "policy published");
        await this.#o.events.audit(policy, "policy.published", `generation ${generation} published at bus revision ${revision}`);
      }
    } catch (err) {
      if (!isBusError(err)) throw err;
      const obs: PolicyObservation = { generation, problems: [], warnings, bus: { ok: false, error: describeError(err) } };
      await updateStatus(this.#o.api, ref, (cur) => desiredPolicyStatus(cur.status, obs, new Date()), { initial: policy });
      await this.#o.events.audit(policy, "bus.unavailable", `cannot publish the policy to the policy bus: ${describeError(err)}`);
      throw err;
    }
    const withFinalizer = await this.#withFinalizer(policy, ref);
    if (withFinalizer === undefined) return {};
    if (withFinalizer.metadata.deletionTimestamp !== undefined) return this.#finalize(withFinalizer, ref, ctx);
    const sidecars = await this.#sidecarCounts(compiled, revision, ctx);
    const obs: PolicyObservation = {
      generation,
      problems: [],
      warnings,
      bus: { ok: true, revision },
      sidecars,
      matchesPods: this.#matchesPods(policy, compiled),
    };
    await updateStatus(this.#o.api, ref, (cur) => desiredPolicyStatus(cur.status, obs, new Date()), { initial: withFinalizer });
    if (sidecars !== undefined && sidecars.enforcing < sidecars.selected) return { requeueAfterMs: this.#o.convergeRequeueMs ?? 2000 };
    return {};
  }

  async #sidecarCounts(compiled: CompiledPolicy, revision: number, ctx: ReconcileContext): Promise<{ selected: number; enforcing: number } | undefined> {
    try {
      const live = await this.#o.bus.liveSidecars();
      const selected = live.filter((h) => h.namespace === compiled.namespace && selectorMatches(compiled.selector, h.labels));
      return { selected: selected.length, enforcing: selected.filter((h) => h.appliedRevision >= revision).length };
    } catch (err) {
      if (!isBusError(err)) throw err;
      ctx.log.warn(errorFields(err), "cannot read sidecar heartbeats; counts left as they were");
      return undefined;
    }
  }

  #matchesPods(policy: AccessPolicy, compiled: CompiledPolicy): boolean | undefined {
    const pods = this.#o.pods;
    if (pods === undefined) return undefined;
    const version = pods.contentVersion;
    const known = this.#podMatches.get(policy);
    if (known?.version === version) return known.matches;
    const matches = pods.list(compiled.namespace).some((pod) => selectorMatches(compiled.selector, pod.metadata.labels ?? {}));
    this.#podMatches.set(policy, { version, matches });
    return matches;
  }
}
