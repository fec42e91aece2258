/**
 * The sidecar's local view of the policy bus (pure state, fed by operator/api/bus-client.ts).
 *
 * Contract: `applySnapshot` replaces everything; `applyEvent` applies one change in revision order. The view
 * answers, without I/O, which policies select this workload (recomputed only when policies change), which
 * revocations are in force, and whether the view is too stale for Strict policies. Revocations are kept by id,
 * so a termination seen twice (event, then snapshot after a gap) is applied once.
 */
import type { BusEvent, Revocation } from "../../operator/api/bus.ts";
import type { BusSnapshot } from "../../operator/api/bus-client.ts";
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import { policiesFor } from "./selector.ts";

export interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export interface ViewChange {
  /** The policies selecting this workload changed (long-lived flows must be re-evaluated). */
  policiesChanged: boolean;
  /** Revocations seen for the first time. */
  newRevocations: Revocation[];
}

export class PolicyView {
  readonly #workload: Workload;
  readonly #policies = new Map<string, CompiledPolicy>();
  readonly #revocations = new Map<string, Revocation>();
  #selected: CompiledPolicy[] = [];
  #strict = false;
  #revision = 0;
  #loaded = false;

  constructor(workload: Workload) {
    this.#workload = workload;
  }

  /** True once a snapshot has been applied. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Highest bus revision applied. */
  get revision(): number {
    return this.#revision;
  }

  /** Policies selecting this workload, deny-first order as compiled. Replaced, never mutated, when policies change. */
  get selected(): readonly CompiledPolicy[] {
    return this.#selected;
  }

  /** True when any selecting policy is Strict (staleness then refuses new requests). */
  get strict(): boolean {
    return this.#strict;
  }

  /** True when any revocation is held (in force or not yet pruned); false lets the hot path skip revocation checks. */
  get hasRevocations(): boolean {
    return this.#revocations.size > 0;
  }

  /** The first revocation in force (in `revocationsInForce` order) that `pred` accepts, without building the list. */
  findRevocationInForce(now: number, pred: (r: Revocation) => boolean): Revocation | undefined {
    if (this.#revocations.size === 0) return undefined;
    for (const r of this.#revocations.values()) {
      if (r.expiresAt > now && r.namespace === this.#workload.namespace && pred(r)) return r;
    }
    return undefined;
  }

  revocationsInForce(now: number): Revocation[] {
    return [...this.#revocations.values()].filter((r) => r.expiresAt > now && r.namespace === this.#workload.namespace);
  }

  applySnapshot(snapshot: BusSnapshot): ViewChange {
    const before = this.#selected;
    this.#policies.clear();
    for (const stored of snapshot.policies) this.#policies.set(`${stored.policy.namespace}/${stored.policy.name}`, stored.policy);
    const newRevocations = snapshot.revocations.filter((r) => !this.#revocations.has(r.id));
    this.#revocations.clear();
    for (const r of snapshot.revocations) this.#revocations.set(r.id, r);
    this.#revision = snapshot.revision;
    this.#loaded = true;
    this.#reselect();
    return { policiesChanged: !sameHashes(before, this.#selected), newRevocations };
  }

  applyEvent(event: BusEvent): ViewChange {
    this.#revision = Math.max(this.#revision, event.revision);
    switch (event.type) {
      case "policy.upsert":
      case "policy.delete": {
        const before = this.#selected;
        if (event.type === "policy.upsert") this.#policies.set(`${event.policy.namespace}/${event.policy.name}`, event.policy);
        else this.#policies.delete(`${event.namespace}/${event.name}`);
        this.#reselect();
        return { policiesChanged: !sameHashes(before, this.#selected), newRevocations: [] };
      }
      case "termination": {
        const known = this.#revocations.has(event.revocation.id);
        this.#revocations.set(event.revocation.id, event.revocation);
        return { policiesChanged: false, newRevocations: known ? [] : [event.revocation] };
      }
    }
  }

  hasRevocation(id: string): boolean {
    return this.#revocations.has(id);
  }

  /** Drops expired revocations (bounded memory). */
  prune(now: number): void {
    for (const [id, r] of this.#revocations) if (r.expiresAt <= now) this.#revocations.delete(id);
  }

  #reselect(): void {
    this.#selected = policiesFor(this.#policies.values(), this.#workload.namespace, this.#workload.labels).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    this.#strict = this.#selected.some((p) => p.failureMode === "Strict");
  }
}

function sameHashes(a: readonly CompiledPolicy[], b: readonly CompiledPolicy[]): boolean {
  return a.length === b.length && a.every((p, i) => p.hash === b[i]?.hash);
}
