/**
 * What the operator has written to the bus, in memory (pure state): the epoch, and per namespace the head
 * revision, the entries' summaries and their digest tree. The publisher diffs the desired state against it (no
 * Redis read per change or per resync), signs the next head from it, and compares Redis against it to notice
 * damage. Summaries only (content hash, revision, expiry): the compiled policies themselves are not kept.
 */
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { NamespaceDigest } from "../api/bus/digest.ts";
import type { Entry, Revocation } from "../api/bus/messages.ts";
import { oncePerObject } from "../../lib/memo.ts";
import { canonicalJson } from "../policy/canonical-json.ts";

export interface EntrySummary {
  type: "policy" | "revocation";
  /** policy.hash, or the canonical JSON of the revocation. */
  content: string;
  revision: number;
  /** Revocations: when they stop applying (and may be pruned). */
  expiresAt?: number;
  lifted: boolean;
}

export class PublishedNamespace {
  revision = 0;
  digest = new NamespaceDigest();
  readonly entries = new Map<string, EntrySummary>();
}

export interface PublishedEpoch {
  id: string;
  createdAt: number;
}

/** What the resources say the bus must hold. */
export interface DesiredBus {
  policies: readonly CompiledPolicy[];
  /** Revocations of every SessionTermination that exists (expired ones are left out by the publisher). */
  revocations: readonly Revocation[];
  /** Namespaces that need a head even without entries (they have sidecars). */
  namespaces: Iterable<string>;
}

/**
 * Canonical JSON of each revocation object, computed once: a sync compares every desired revocation with what was
 * written, and the desired ones are the same objects from one sync to the next (controller/desired-bus.ts).
 * Revocation objects are never mutated.
 */
export const revocationContent: (revocation: Revocation) => string = oncePerObject(canonicalJson);

export function summaryOf(entry: Entry): EntrySummary {
  if (entry.type === "policy") return { type: "policy", content: entry.policy.hash, revision: entry.revision, lifted: false };
  return {
    type: "revocation",
    content: revocationContent(entry.revocation),
    revision: entry.revision,
    expiresAt: entry.revocation.expiresAt,
    lifted: entry.liftedAt !== undefined,
  };
}
