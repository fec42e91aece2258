/**
 * Verification of a namespace snapshot as read from Redis (pure: the caller fetched the raw replies, in one
 * MULTI). Used by the sidecar on every (re)load and by the operator when it adopts an existing bus at start.
 *
 * `verifyEpoch(rawEpochHash, keys)`: the `P epoch` hash must hold a valid signed epoch record whose id equals its
 * plain `id` field: BUS_NO_EPOCH when there is none (bus not built yet, or lost), else the record's own problem
 * (unsigned, mis-signed, malformed: a forgery) or BUS_INCONSISTENT.
 * `verifyNamespace(namespace, epoch, rawHead, rawEntries, keys)`: every entry must be signed, of this epoch and
 * namespace, stored under its own field, written at or before the head's revision; the head must be signed, of
 * this epoch and namespace, agree with its plain `revision` field, and its digest and count must equal the ones
 * recomputed from the entries. No head means nothing was ever published for the namespace in this epoch: then
 * there must be no entries either. The first problem found is returned with its stable code.
 */
import type { Decoded } from "./codec.ts";
import { failure } from "./codec.ts";
import { entryHash, NamespaceDigest } from "./digest.ts";
import { openAs, open, type VerifyingKeys } from "./envelope.ts";
import { entryField, type EpochBody, type HeadBody, type PolicyEntry, type RevocationEntry } from "./messages.ts";
import { pairsOf, parseCounter } from "./replies.ts";

export interface NamespaceSnapshot {
  epoch: EpochBody;
  namespace: string;
  /** Null when nothing was published for this namespace in this epoch. */
  head: HeadBody | null;
  policies: PolicyEntry[];
  revocations: RevocationEntry[];
  /** The verified entries' hashes (the operator seeds its published state from them). */
  digest: NamespaceDigest;
  /** Key ids that signed the head and the entries. */
  signers: ReadonlySet<string>;
}

function fieldsOf(raw: unknown): Map<string, unknown> {
  return new Map(pairsOf(raw));
}

export function verifyEpoch(raw: unknown, keys: VerifyingKeys): Decoded<EpochBody> {
  const fields = fieldsOf(raw);
  const signed = fields.get("signed");
  if (signed === undefined) return failure("BUS_NO_EPOCH", "the bus has no epoch record (not built yet, or lost)");
  const opened = openAs(signed, keys, "epoch");
  if (!opened.ok) return failure(opened.error.code, `the epoch record is not valid: ${opened.error.message}`);
  if (fields.get("id") !== opened.value.body.epoch) return failure("BUS_INCONSISTENT", "the epoch record disagrees with its id");
  return { ok: true, value: opened.value.body };
}

function verifyHead(namespace: string, epoch: EpochBody, raw: unknown, keys: VerifyingKeys, signers: Set<string>): Decoded<HeadBody | null> {
  const fields = fieldsOf(raw);
  if (fields.size === 0) return { ok: true, value: null };
  const opened = openAs(fields.get("signed"), keys, "head");
  if (!opened.ok) return opened;
  signers.add(opened.value.kid);
  const head = opened.value.body;
  if (head.epoch !== epoch.epoch) return failure("BUS_INCONSISTENT", "the namespace head belongs to another epoch");
  if (head.namespace !== namespace) return failure("BUS_INCONSISTENT", "the namespace head belongs to another namespace");
  if (parseCounter(fields.get("revision")) !== head.revision) return failure("BUS_INCONSISTENT", "the namespace head disagrees with its revision");
  return { ok: true, value: head };
}

export function verifyNamespace(namespace: string, epoch: EpochBody, rawHead: unknown, rawEntries: unknown, keys: VerifyingKeys): Decoded<NamespaceSnapshot> {
  const signers = new Set<string>();
  const head = verifyHead(namespace, epoch, rawHead, keys, signers);
  if (!head.ok) return head;
  const policies: PolicyEntry[] = [];
  const revocations: RevocationEntry[] = [];
  const hashes: [string, string][] = [];
  for (const [field, raw] of pairsOf(rawEntries)) {
    const opened = open(raw, keys);
    if (!opened.ok) return failure(opened.error.code, `entry ${field}: ${opened.error.message}`);
    const entry = opened.value.body;
    if (entry.type !== "policy" && entry.type !== "revocation") return failure("BUS_UNKNOWN_TYPE", `entry ${field} is not an entry`);
    if (entry.epoch !== epoch.epoch || entry.namespace !== namespace || entryField(entry) !== field) {
      return failure("BUS_INCONSISTENT", `entry ${field} belongs to another epoch, namespace or field`);
    }
    if (head.value === null || entry.revision > head.value.revision) return failure("BUS_INCONSISTENT", `entry ${field} is newer than the head`);
    if (entry.type === "policy") policies.push(entry);
    else revocations.push(entry);
    signers.add(opened.value.kid);
    hashes.push([field, entryHash(opened.value.text)]);
  }
  const digest = new NamespaceDigest(hashes);
  if (head.value !== null && (digest.digest !== head.value.digest || digest.size !== head.value.entries)) {
    return failure("BUS_DIGEST_MISMATCH", "the entries do not match the signed namespace head");
  }
  return { ok: true, value: { epoch, namespace, head: head.value, policies, revocations, digest, signers } };
}
