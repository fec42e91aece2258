/**
 * The bus controller: keeps Redis a faithful, signed projection of the resources (the resources are the source of
 * truth). One synthetic key (`BUS_RESYNC_KEY`), so it runs only on the leader, after the caches synced, with the
 * runner's backoff on failure; it requeues itself every `checkMs` and is also woken when Redis reconnects.
 *
 * Each run, under the bus gate's EXCLUSIVE side for anything that rewrites (no reconciler publish in flight; the
 * caches are read inside, so what it writes is at least as new as anything published). Every publish waits while
 * it holds that side, so what it computes there is derived once per cached object (desired-bus.ts) and computed
 * once beforehand, outside the gate:
 *   1. raise the revision floor from the largest `status.busRevision` in the caches;
 *   2. first run: adopt the bus in Redis if it is whole and signed by our keys, then publish the difference;
 *      otherwise REBUILD it as a new epoch from the resources (policies and revocations together, one step);
 *   3. later runs: `check()` (epoch, heads, key types), `verifyContents()` once per resync period, and integrity
 *      failures sidecars report in their heartbeats: any damage → rebuild (metric vigil_operator_bus_rebuilds_total,
 *      a Warning Event on the leader Lease, a log line with the reason). The checks first run as probes WITHOUT the
 *      gate (publishes go on); only a finding is checked again under the EXCLUSIVE side (a publish in flight is not
 *      damage) before anything is rebuilt;
 *   4. once per resync period: `sync(desired)` — lifts revocations whose SessionTermination is gone, prunes expired
 *      ones, removes policies without a resource (diff against memory only: no Redis read);
 *   5. re-sign the epoch record (sidecars measure staleness from it) and give a head to every namespace that has
 *      live sidecars but none yet; prune stale heartbeats.
 * After an adoption or a rebuild `onRebuilt` re-enqueues every policy and termination (their statuses name the
 * new revisions, and terminations re-plan what they wait for).
 */
import type { Heartbeat } from "../api/bus/messages.ts";
import type { AccessPolicy, SessionTermination } from "../api/v1alpha1/index.ts";
import type { Damage } from "../bus/publisher.ts";
import type { DesiredBus } from "../bus/published.ts";
import type { EventRecorder, EventTarget } from "../kube/events.ts";
import type { Informer } from "../kube/informer.ts";
import type { BusContext } from "./bus-context.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";
import { desiredBusState } from "./desired-bus.ts";

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
    // First without the gate (publishes go on meanwhile), then, only when that finds something, again under its
    // exclusive side: a publish in flight has written its head in Redis but not yet recorded it in memory, and a
    // check between the two took it for damage (and rebuilt the whole bus).
    const damage = await this.#confirmed(
      "check",
      () => publisher.probe(),
      () => publisher.check(),
    );
    if (damage !== null) return damage;
    const reported = live.find((h) => h.epoch === current.id && h.integrity !== "");
    if (reported !== undefined) {
      publisher.reportDamage(`sidecar ${reported.namespace}/${reported.pod} refused the bus: ${reported.integrity}`);
      return publisher.damage;
    }
    return resyncDue
      ? this.#confirmed(
          "verify",
          () => publisher.probeContents(),
          () => publisher.verifyContents(),
        )
      : null;
  }

  /** `probe` with publishes going on; if it finds anything, `check` with none in flight decides (and records it). */
  async #confirmed(operation: string, probe: () => Promise<Damage | null>, check: () => Promise<Damage | null>): Promise<Damage | null> {
    const { bus } = this.#o;
    const suspected = await bus.timed(operation, probe);
    if (suspected === null) return null;
    return bus.exclusive(() => bus.timed(operation, check));
  }

  async #rebuild(damage: Damage, sidecarNamespaces: Set<string>, ctx: ReconcileContext): Promise<void> {
    const { bus } = this.#o;
    const started = Date.now();
    await this.#desired(sidecarNamespaces);
    const result = await bus.exclusive(async () => {
      const desired = await this.#desired(sidecarNamespaces);
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

  /**
   * The desired bus from the caches. Called once before taking the gate's exclusive side (compiling what changed
   * since the last call is the expensive part, and publishes go on meanwhile) and again inside it, where the caches
   * must be read (see BusContext.publish) and every unchanged object's result is looked up (desired-bus.ts).
   */
  #desired(sidecarNamespaces: Set<string>): Promise<DesiredBus> {
    return desiredBusState(this.#o.policies, this.#o.terminations, sidecarNamespaces, this.#o.revocationClockSkewMs);
  }

  async #sync(sidecarNamespaces: Set<string>, ctx: ReconcileContext): Promise<void> {
    const { bus } = this.#o;
    await this.#desired(sidecarNamespaces);
    const report = await bus.exclusive(async () => {
      const desired = await this.#desired(sidecarNamespaces);
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
