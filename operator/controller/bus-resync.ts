/**
 * The bus controller: keeps Redis a faithful, signed projection of the resources (the resources are the source of
 * truth). One synthetic key (`BUS_RESYNC_KEY`), so it runs only on the leader, after the caches synced, with the
 * runner's backoff on failure; it requeues itself every `checkMs` and is also woken when Redis reconnects.
 *
 * Each run, under the bus gate's EXCLUSIVE side for anything that rewrites (no reconciler publish in flight; the
 * caches are read inside, so what it writes is at least as new as anything published):
 *   1. raise the revision floor from the largest `status.busRevision` in the caches;
 *   2. first run: adopt the bus in Redis if it is whole and signed by our keys, then publish the difference;
 *      otherwise REBUILD it as a new epoch from the resources (policies and revocations together, one step);
 *   3. later runs (under the EXCLUSIVE side too: a publish in flight is not damage): `check()` (epoch, heads, key
 *      types), `verifyContents()` once per resync period, and integrity
 *      failures sidecars report in their heartbeats: any damage → rebuild (metric vigil_operator_bus_rebuilds_total,
 *      a Warning Event on the leader Lease, a log line with the reason);
 *   4. once per resync period: `sync(desired)` — lifts revocations whose SessionTermination is gone, prunes expired
 *      ones, removes policies without a resource (diff against memory only: no Redis read);
 *   5. re-sign the epoch record (sidecars measure staleness from it) and give a head to every namespace that has
 *      live sidecars but none yet; prune stale heartbeats.
 * After an adoption or a rebuild `onRebuilt` re-enqueues every policy and termination (their statuses name the
 * new revisions, and terminations re-plan what they wait for).
 */
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import type { Heartbeat, Revocation } from "../api/bus/messages.ts";
import type { AccessPolicy, SessionTermination } from "../api/v1alpha1/index.ts";
import type { Damage } from "../bus/publisher.ts";
import type { DesiredBus } from "../bus/published.ts";
import type { EventRecorder, EventTarget } from "../kube/events.ts";
import type { Informer } from "../kube/informer.ts";
import { compileAccessPolicy } from "../policy/compile.ts";
import type { BusContext } from "./bus-context.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";
import { absoluteTimeoutsIn, revocationOf } from "./session-termination.ts";
import { longestTimeoutSeconds, revocationLifetimeMs } from "./termination-plan.ts";

export const BUS_RESYNC_KEY = "vigil-operator/bus";

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

/** Objects handled between two yields to the event loop (the Lease renewal, the watches and Redis must run). */
const YIELD_EVERY = 200;

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * What the bus must hold according to the cached resources (and the namespaces with live sidecars). The caches are
 * read once (a snapshot of each); compiling 1,200 policies and 10,000 revocations takes hundreds of milliseconds on
 * a busy core, so it yields to the event loop every YIELD_EVERY objects instead of blocking it throughout.
 */
export async function desiredBusState(
  policies: Pick<Informer<AccessPolicy>, "list">,
  terminations: Pick<Informer<SessionTermination>, "list">,
  sidecarNamespaces: Iterable<string>,
  skewMs: number,
): Promise<DesiredBus> {
  let handled = 0;
  const compiled: CompiledPolicy[] = [];
  for (const policy of policies.list()) {
    if (++handled % YIELD_EVERY === 0) await yieldToLoop();
    if (policy.metadata.deletionTimestamp !== undefined) continue;
    const result = compileAccessPolicy(policy);
    if (result.ok) compiled.push(result.policy);
  }
  const revocations: Revocation[] = [];
  // Once per namespace, not per termination: 10,000 terminations × 1,200 policies was a 3–5 s synchronous step.
  const timeouts = new Map<string, number[]>();
  for (const t of terminations.list()) {
    if (++handled % YIELD_EVERY === 0) await yieldToLoop();
    const namespace = t.metadata.namespace ?? "";
    let namespaceTimeouts = timeouts.get(namespace);
    if (namespaceTimeouts === undefined) {
      // The longest only (all revocationLifetimeMs takes of them): not a pass over every policy per termination.
      namespaceTimeouts = [longestTimeoutSeconds(absoluteTimeoutsIn(policies, namespace))];
      timeouts.set(namespace, namespaceTimeouts);
    }
    // The same lifetime the termination reconciler uses before it has a plan (a termination published without one
    // yet must not look deleted).
    const lifetime = revocationLifetimeMs(t.spec.revokeFor, namespaceTimeouts);
    const record = revocationOf(t, skewMs, lifetime);
    if (record !== undefined) revocations.push(record);
  }
  return { policies: compiled, revocations, namespaces: sidecarNamespaces };
}

export interface BusControllerOptions {
  policies: Informer<AccessPolicy>;
  terminations: Informer<SessionTermination>;
  bus: BusContext;
  events: EventRecorder;
  /** The Lease of leader election: Events about the bus are recorded on it. */
  leaseTarget: EventTarget;
  /** How often the bus is checked and the epoch re-signed. */
  checkMs: number;
  /** How often the contents are compared in full and the difference published. */
  resyncMs: number;
  revocationClockSkewMs: number;
  /** Heartbeats older than this are removed from P sidecars. */
  pruneSidecarsOlderThanMs?: number;
  /** After an adoption or a rebuild: reconcile every policy and termination again. */
  onRebuilt?: () => void;
  now?: () => number;
}

export class BusResyncReconciler implements Reconciler {
  readonly #o: BusControllerOptions;
  readonly #now: () => number;
  #lastResync = Number.NEGATIVE_INFINITY;

  constructor(options: BusControllerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const { bus } = this.#o;
    const publisher = bus.publisher;
    publisher.raiseRevisionFloor(maxBusRevision(this.#o.policies, this.#o.terminations));
    // Heartbeats only inform (integrity reports, heads for new namespaces): a failure to read them never blocks a repair.
    const live = await bus.liveSidecars().catch((): Heartbeat[] => []);
    const resyncDue = this.#now() - this.#lastResync >= this.#o.resyncMs;
    const damage = await this.#damage(live, resyncDue, ctx);
    const namespaces = new Set(live.map((h) => h.namespace));
    if (damage !== null) {
      await this.#rebuild(damage, namespaces, ctx);
    } else if (resyncDue || this.#lastResync === Number.NEGATIVE_INFINITY) {
      await this.#sync(namespaces, ctx);
    }
    if (resyncDue || damage !== null) this.#lastResync = this.#now();
    await bus.timed("refresh", () => publisher.refreshEpoch());
    const known = new Set(publisher.namespaces());
    for (const namespace of namespaces) {
      if (!known.has(namespace)) await bus.publish("namespace", () => publisher.ensureNamespace(namespace));
    }
    const pruneAge = this.#o.pruneSidecarsOlderThanMs;
    if (pruneAge !== undefined && resyncDue) {
      const pruned = await bus.timed("prune", () => publisher.pruneSidecars(bus.now(), pruneAge));
      if (pruned > 0) ctx.log.info({ pruned }, "stale sidecar heartbeats removed");
    }
    return { requeueAfterMs: this.#o.checkMs };
  }

  /** Adopts the bus at the first run; later, what (if anything) must be repaired. */
  async #damage(live: readonly Heartbeat[], resyncDue: boolean, ctx: ReconcileContext): Promise<Damage | null> {
    const { bus } = this.#o;
    const publisher = bus.publisher;
    const current = publisher.epoch;
    if (current === null) {
      const loaded = await bus.timed("load", () => publisher.load());
      if (!loaded.adopted) return loaded.damage;
      ctx.log.info({ namespaces: publisher.namespaces().length }, "adopted the policy bus found in Redis");
      return null;
    }
    // Under the gate's exclusive side, like every rewrite: a publish in flight has written its head in Redis but not
    // yet recorded it in memory, and a check between the two took it for damage (and rebuilt the whole bus).
    const damage = await bus.exclusive(() => publisher.check());
    if (damage !== null) return damage;
    const reported = live.find((h) => h.epoch === current.id && h.integrity !== "");
    if (reported !== undefined) {
      publisher.reportDamage(`sidecar ${reported.namespace}/${reported.pod} refused the bus: ${reported.integrity}`);
      return publisher.damage;
    }
    return resyncDue ? bus.exclusive(() => bus.timed("verify", () => publisher.verifyContents())) : null;
  }

  async #rebuild(damage: Damage, sidecarNamespaces: Set<string>, ctx: ReconcileContext): Promise<void> {
    const { bus } = this.#o;
    const started = Date.now();
    const result = await bus.exclusive(async () => {
      const desired = await desiredBusState(this.#o.policies, this.#o.terminations, sidecarNamespaces, this.#o.revocationClockSkewMs);
      return bus.timed("rebuild", () => bus.publisher.rebuild(desired, damage));
    });
    bus.metrics.rebuilds.inc({ reason: damage.reason });
    const message = `policy bus rebuilt from the resources as a new epoch at revision ${result.revision} (${damage.reason}): ${damage.message}`;
    if (damage.reason === "not_built") ctx.log.info({ busRevision: result.revision, ms: Date.now() - started }, message);
    else {
      ctx.log.warn({ reason: damage.reason, busRevision: result.revision, ms: Date.now() - started }, message);
      await this.#o.events.audit(this.#o.leaseTarget, "bus.rebuilt", message);
    }
    this.#o.onRebuilt?.();
  }

  async #sync(sidecarNamespaces: Set<string>, ctx: ReconcileContext): Promise<void> {
    const { bus } = this.#o;
    const report = await bus.exclusive(async () => {
      const desired = await desiredBusState(this.#o.policies, this.#o.terminations, sidecarNamespaces, this.#o.revocationClockSkewMs);
      return bus.timed("sync", () => bus.publisher.sync(desired));
    });
    const changes =
      report.policiesPut.length +
      report.policiesDeleted.length +
      report.revocationsPut.length +
      report.revocationsLifted.length +
      report.pruned +
      report.namespacesAdded.length;
    const summary = {
      policiesPut: report.policiesPut.length,
      policiesDeleted: report.policiesDeleted.length,
      revocationsPut: report.revocationsPut.length,
      revocationsLifted: report.revocationsLifted.length,
      pruned: report.pruned,
      namespacesAdded: report.namespacesAdded.length,
      busRevision: bus.publisher.highestRevision,
    };
    if (changes > 0) ctx.log.info(summary, "bus brought in line with the resources");
    else ctx.log.debug(summary, "bus in line with the resources");
    if (this.#lastResync === Number.NEGATIVE_INFINITY) this.#o.onRebuilt?.();
  }
}
