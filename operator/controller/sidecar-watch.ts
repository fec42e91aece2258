/**
 * Heartbeats are not Kubernetes objects, so nothing watches them: this poller turns changes in the live sidecar
 * set into policy reconciles. Runs as a controller with ONE synthetic key (`SIDECAR_WATCH_KEY`, leader only):
 * every `intervalMs` it reads the live heartbeats (through BusContext, which also sets
 * `vigil_operator_sidecars_known`), fingerprints them per namespace (pod, labels, applied revision) and hands the
 * namespaces whose fingerprint changed — sidecars appearing, going away, or applying a new revision — to
 * `onNamespacesChanged`, which enqueues the policies of those namespaces so their sidecar counts converge.
 * A Redis failure is left to the runner's backoff.
 */
import type { Heartbeat } from "../api/bus/messages.ts";
import type { BusContext } from "./bus-context.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";

export const SIDECAR_WATCH_KEY = "vigil-operator/sidecar-watch";

/** Namespace → a fingerprint of its live sidecars (order-independent). */
export function fingerprintByNamespace(live: readonly Heartbeat[]): Map<string, string> {
  const byNs = new Map<string, string[]>();
  for (const h of live) {
    const labels = Object.entries(h.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const entry = JSON.stringify([h.pod, h.appliedRevision, labels]);
    const list = byNs.get(h.namespace);
    if (list === undefined) byNs.set(h.namespace, [entry]);
    else list.push(entry);
  }
  return new Map([...byNs].map(([ns, list]) => [ns, list.sort().join("\n")]));
}

/** Namespaces whose fingerprint differs between two readings (appeared, changed or emptied). */
export function changedNamespaces(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out = new Set<string>();
  for (const [ns, fp] of after) if (before.get(ns) !== fp) out.add(ns);
  for (const ns of before.keys()) if (!after.has(ns)) out.add(ns);
  return [...out].sort();
}

export interface SidecarWatchOptions {
  bus: BusContext;
  intervalMs: number;
  onNamespacesChanged: (namespaces: readonly string[]) => void;
}

export class SidecarWatchReconciler implements Reconciler {
  readonly #o: SidecarWatchOptions;
  #last = new Map<string, string>();

  constructor(options: SidecarWatchOptions) {
    this.#o = options;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const next = fingerprintByNamespace(await this.#o.bus.liveSidecars());
    const changed = changedNamespaces(this.#last, next);
    this.#last = next;
    if (changed.length > 0) {
      ctx.log.debug({ namespaces: changed.length }, "live sidecars changed");
      this.#o.onNamespacesChanged(changed);
    }
    return { requeueAfterMs: this.#o.intervalMs };
  }
}
