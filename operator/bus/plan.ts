/**
 * What the publisher writes, decided from the desired state and what it has written (pure): the entries of a
 * rebuilt epoch per namespace (`rebuildDrafts`), and per namespace the puts and deletions a resync publishes
 * (`desiredByNamespace`, `planSync`). Revocations past their expiry are left out (pruned); revocations no longer
 * desired but still in force are carried over as lifts, so a sidecar that missed a lift still gets it.
 */
import { policyField, revocationField, type Revocation } from "../api/bus/messages.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { revocationContent, type DesiredBus, type PublishedNamespace } from "./published.ts";

/** An entry to sign, without its epoch, namespace and revision (the change that writes it sets them). */
export type Draft = { type: "policy"; policy: CompiledPolicy } | { type: "revocation"; revocation: Revocation; liftedAt?: number | undefined };

/** One namespace's change: entries to put, entry fields to delete. */
export interface Plan {
  puts: Draft[];
  dels: string[];
}

export interface SyncReport {
  policiesPut: string[];
  policiesDeleted: string[];
  revocationsPut: string[];
  revocationsLifted: string[];
  pruned: number;
  namespacesAdded: string[];
}

export interface WantedNamespace {
  policies: Map<string, CompiledPolicy>;
  revocations: Map<string, Revocation>;
}

/** Every namespace's drafts for a new epoch: `desired`, plus every namespace `published` has (empty if need be). */
export function rebuildDrafts(desired: DesiredBus, published: ReadonlyMap<string, PublishedNamespace>, now: number): Map<string, Draft[]> {
  const drafts = new Map<string, Draft[]>();
  const add = (namespace: string, draft?: Draft): void => {
    const list = drafts.get(namespace) ?? [];
    if (draft !== undefined) list.push(draft);
    drafts.set(namespace, list);
  };
  for (const namespace of [...desired.namespaces, ...published.keys()]) add(namespace);
  for (const policy of desired.policies) add(policy.namespace, { type: "policy", policy });
  const wanted = new Set<string>();
  for (const revocation of desired.revocations) {
    if (revocation.expiresAt <= now) continue;
    wanted.add(revocation.id);
    add(revocation.namespace, { type: "revocation", revocation });
  }
  // Lifts still in force, and revocations of deleted terminations, are carried over as lifts.
  for (const [namespace, state] of published) {
    for (const summary of state.entries.values()) {
      if (summary.type !== "revocation" || (summary.expiresAt ?? 0) <= now) continue;
      const revocation = JSON.parse(summary.content) as Revocation;
      if (!wanted.has(revocation.id)) add(namespace, { type: "revocation", revocation, liftedAt: now });
    }
  }
  return drafts;
}

export function desiredByNamespace(desired: DesiredBus, now: number): Map<string, WantedNamespace> {
  const byNamespace = new Map<string, WantedNamespace>();
  const of = (namespace: string): WantedNamespace => {
    let wanted = byNamespace.get(namespace);
    if (wanted === undefined) {
      wanted = { policies: new Map(), revocations: new Map() };
      byNamespace.set(namespace, wanted);
    }
    return wanted;
  };
  for (const namespace of desired.namespaces) of(namespace);
  for (const policy of desired.policies) of(policy.namespace).policies.set(policyField(policy.name), policy);
  for (const revocation of desired.revocations) {
    if (revocation.expiresAt > now) of(revocation.namespace).revocations.set(revocationField(revocation.id), revocation);
  }
  return byNamespace;
}

/** The change that brings one namespace from `state` to `want`; what it does is added to `report`. */
export function planSync(state: PublishedNamespace, want: WantedNamespace, now: number, report: SyncReport): Plan {
  const puts: Draft[] = [];
  const dels: string[] = [];
  for (const [field, policy] of want.policies) {
    if (state.entries.get(field)?.content !== policy.hash) {
      puts.push({ type: "policy", policy });
      report.policiesPut.push(`${policy.namespace}/${policy.name}`);
    }
  }
  for (const [field, revocation] of want.revocations) {
    const current = state.entries.get(field);
    if (current === undefined || current.lifted || current.content !== revocationContent(revocation)) {
      puts.push({ type: "revocation", revocation });
      report.revocationsPut.push(revocation.id);
    }
  }
  for (const [field, summary] of state.entries) {
    if (summary.type === "policy") {
      if (!want.policies.has(field)) {
        dels.push(field);
        report.policiesDeleted.push(field.slice(2));
      }
    } else if ((summary.expiresAt ?? 0) <= now) {
      dels.push(field);
      report.pruned++;
    } else if (!summary.lifted && !want.revocations.has(field)) {
      puts.push({ type: "revocation", revocation: JSON.parse(summary.content) as Revocation, liftedAt: now });
      report.revocationsLifted.push(field.slice(2));
    }
  }
  return { puts, dels };
}
