/**
 * The sidecar's local view of its namespace on the policy bus (pure state, fed with VERIFIED snapshots and events
 * by sidecar/bus/subscriber.ts).
 *
 * Contract:
 * - Policies: a snapshot replaces them all (it verified whole against a signed head, so absence there is
 *   authentic); events put and delete them. The policies selecting this workload are recomputed only when the
 *   policies change, and `selected` is then replaced (never mutated).
 * - Revocations: kept by id. A revocation leaves the view ONLY by expiry (`prune`), by a lift (an entry with
 *   `liftedAt`) or by an explicit delete event from the operator — never because a snapshot no longer has it
 *   (Redis may have lost it; the operator puts it back from the SessionTermination). A termination seen twice
 *   (event, then a snapshot after a gap or a rebuild) is reported new only once.
 * - `epoch` / `revision`: what was applied (for heartbeats); `loaded` once a snapshot was applied.
 */
import type { NamespaceSnapshot } from "../../operator/api/bus/snapshot.ts";
import type { Entry, EventBody, Revocation } from "../../operator/api/bus/messages.ts";
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
  /** The view moved to another epoch (the bus was rebuilt). */
  newEpoch: boolean;
}

export class PolicyView {
  readonly #workload: Workload;
  readonly #policies = new Map<string, CompiledPolicy>();
  readonly #revocations = new Map<string, Revocation>();
  #selected: CompiledPolicy[] = [];
  #strict = false;
  #epoch = "";
  #revision = 0;
  #loaded = false;

  constructor(workload: Workload) {
    this.#workload = workload;
  }

  /** True once a snapshot has been applied. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Epoch of the applied state ("" before the first snapshot). */
  get epoch(): string {
    return this.#epoch;
  }

  /** Highest revision of this namespace applied. */
  get revision(): number {
    return this.#revision;
  }

  /** Policies selecting this workload, sorted by name. Replaced, never mutated, when policies change. */
  get selected(): readonly CompiledPolicy[] {
    return this.#selected;
  }

  /** True when any selecting policy is Strict (staleness then refuses new requests). */
  get strict(): boolean {
    return this.#strict;
  }

  /** True when any revocation is held; false lets the hot path skip revocation checks. */
  get hasRevocations(): boolean {
    return this.#revocations.size > 0;
  }

  /** The first revocation in force that `pred` accepts, without building a list. */
  findRevocation(now: number, pred: (r: Revocation) => boolean): Revocation | undefined {
    for (const r of this.#revocations.values()) if (r.expiresAt > now && pred(r)) return r;
    return undefined;
  }

  revocationsInForce(now: number): Revocation[] {
    return [...this.#revocations.values()].filter((r) => r.expiresAt > now);
  }

  hasRevocation(id: string): boolean {
    return this.#revocations.has(id);
  }

  applySnapshot(snapshot: NamespaceSnapshot): ViewChange {
    const before = this.#selected;
    const newEpoch = snapshot.epoch.epoch !== this.#epoch;
    this.#policies.clear();
    for (const entry of snapshot.policies) this.#policies.set(entry.policy.name, entry.policy);
    const newRevocations: Revocation[] = [];
    for (const entry of snapshot.revocations) this.#putRevocation(entry, newRevocations);
    this.#epoch = snapshot.epoch.epoch;
    this.#revision = snapshot.head?.revision ?? this.#revision;
    this.#loaded = true;
    this.#reselect();
    return { policiesChanged: !sameHashes(before, this.#selected), newRevocations, newEpoch };
  }

  applyEvent(event: EventBody): ViewChange {
    const before = this.#selected;
    let policies = false;
    const newRevocations: Revocation[] = [];
    for (const change of event.changes) {
      if (change.op === "put") {
        if (change.entry.type === "policy") {
          this.#policies.set(change.entry.policy.name, change.entry.policy);
          policies = true;
        } else this.#putRevocation(change.entry, newRevocations);
      } else if (change.field.startsWith("p:")) {
        policies = this.#policies.delete(change.field.slice(2)) || policies;
      } else if (change.field.startsWith("r:")) {
        this.#revocations.delete(change.field.slice(2));
      }
    }
    this.#revision = Math.max(this.#revision, event.revision);
    if (policies) this.#reselect();
    return { policiesChanged: policies && !sameHashes(before, this.#selected), newRevocations, newEpoch: false };
  }

  /** Drops expired revocations (bounded memory). */
  prune(now: number): void {
    for (const [id, r] of this.#revocations) if (r.expiresAt <= now) this.#revocations.delete(id);
  }

  #putRevocation(entry: Extract<Entry, { type: "revocation" }>, fresh: Revocation[]): void {
    const { revocation } = entry;
    if (entry.liftedAt !== undefined) {
      this.#revocations.delete(revocation.id);
      return;
    }
    if (!this.#revocations.has(revocation.id)) fresh.push(revocation);
    this.#revocations.set(revocation.id, revocation);
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
