/**
 * Re-assertion of the whole bus from the resources (the resources are the source of truth; Redis is a projection).
 *
 * Runs as a controller with ONE synthetic key (`BUS_RESYNC_KEY`) so it runs only on the leader, after the caches
 * synced, with the runner's backoff on failure: at start, then every `resyncMs` (requeueAfter). Each run:
 * raises the publisher's revision floor from the largest `status.busRevision` seen, then — inside the bus gate's
 * exclusive section, so no reconciler publish is in flight — reads the caches and calls `reassert(every valid
 * compiled policy not being deleted, every planned revocation not yet expired)`. A FLUSHALL'd Redis is thereby
 * repaired within one resync period with no human action. Policies it removed are handed back to the policy
 * controller (`onPoliciesRemoved`) so anything that raced the snapshot is republished at once.
 * `revisionFloorFrom` is also what reconcilers call (once) before their first publish.
 */
import type { AccessPolicy, SessionTermination } from "../api/v1alpha1/index.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import type { RevocationRecord } from "../bus/publisher.ts";
import type { Informer } from "../kube/informer.ts";
import { compileAccessPolicy } from "../policy/compile.ts";
import type { BusContext } from "./bus-context.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";
import { revocationOf } from "./session-termination.ts";

export const BUS_RESYNC_KEY = "vigil-operator/bus-reassert";

/** The largest status.busRevision among the cached objects. */
export function maxBusRevision(...informers: Informer<AccessPolicy | SessionTermination>[]): number {
  let max = 0;
  for (const informer of informers) {
    for (const obj of informer.list()) {
      const revision: unknown = obj.status?.busRevision;
      if (typeof revision === "number" && Number.isSafeInteger(revision) && revision > max) max = revision;
    }
  }
  return max;
}

/** What the bus must hold according to the cached resources. */
export function desiredBusState(
  policies: Informer<AccessPolicy>,
  terminations: Informer<SessionTermination>,
  now: number,
): { policies: CompiledPolicy[]; revocations: RevocationRecord[] } {
  const compiled: CompiledPolicy[] = [];
  for (const policy of policies.list()) {
    if (policy.metadata.deletionTimestamp !== undefined) continue;
    const result = compileAccessPolicy(policy);
    if (result.ok) compiled.push(result.policy);
  }
  const revocations: RevocationRecord[] = [];
  for (const termination of terminations.list()) {
    const record = revocationOf(termination);
    if (record !== undefined && record.expiresAt > now) revocations.push(record);
  }
  return { policies: compiled, revocations };
}

export interface BusResyncOptions {
  policies: Informer<AccessPolicy>;
  terminations: Informer<SessionTermination>;
  bus: BusContext;
  resyncMs: number;
  /** Keys (`ns/name`) of policies the reassert removed from the bus. */
  onPoliciesRemoved?: (keys: readonly string[]) => void;
  /** Heartbeats older than this are removed from P sidecars. */
  pruneSidecarsOlderThanMs?: number;
}

export class BusResyncReconciler implements Reconciler {
  readonly #o: BusResyncOptions;

  constructor(options: BusResyncOptions) {
    this.#o = options;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const { bus } = this.#o;
    bus.publisher.raiseRevisionFloor(maxBusRevision(this.#o.policies, this.#o.terminations));
    const started = Date.now();
    const report = await bus.exclusive(() => {
      const desired = desiredBusState(this.#o.policies, this.#o.terminations, bus.now());
      return bus.timed("reassert", () => bus.publisher.reassert(desired.policies, desired.revocations));
    });
    const changes =
      report.policiesAdded.length + report.policiesUpdated.length + report.policiesRemoved.length +
      report.revocationsAdded.length + report.revocationsUpdated.length + report.revocationsPruned.length + report.invalidRemoved;
    const summary = {
      policiesAdded: report.policiesAdded.length,
      policiesUpdated: report.policiesUpdated.length,
      policiesRemoved: report.policiesRemoved.length,
      revocationsAdded: report.revocationsAdded.length,
      revocationsUpdated: report.revocationsUpdated.length,
      revocationsPruned: report.revocationsPruned.length,
      invalidRemoved: report.invalidRemoved,
      revisionRepaired: report.revisionRepaired,
      busRevision: report.revision,
      ms: Date.now() - started,
    };
    if (changes > 0 || report.revisionRepaired) ctx.log.info(summary, "bus re-asserted from the resources: repaired");
    else ctx.log.debug(summary, "bus re-asserted from the resources: nothing to repair");
    if (report.policiesRemoved.length > 0) this.#o.onPoliciesRemoved?.(report.policiesRemoved);
    const pruneAge = this.#o.pruneSidecarsOlderThanMs;
    if (pruneAge !== undefined) {
      const pruned = await bus.timed("prune", () => bus.publisher.pruneSidecars(bus.now(), pruneAge));
      if (pruned > 0) ctx.log.info({ pruned }, "stale sidecar heartbeats removed");
    }
    return { requeueAfterMs: this.#o.resyncMs };
  }
}
