/**
 * What the publisher writes, signed with the primary key (pure; publisher.ts runs the writes): one change of one
 * namespace as the arguments of the compare-and-set script `vigilApplyChange` (scripts.ts), a namespace of a new
 * epoch (its entries, its head, its first event), the epoch record. Also the two reads back of envelopes the
 * publisher wrote, without verifying them: the epoch record's key id and an entry's body text.
 */
import { entryHash, NamespaceDigest } from "../api/bus/digest.ts";
import { seal, type SigningKey } from "../api/bus/envelope.ts";
import { entryField, type Change, type Entry, type EventBody, type HeadBody } from "../api/bus/messages.ts";
import { pairsOf } from "../api/bus/replies.ts";
import type { Draft } from "./plan.ts";
import { PublishedNamespace, summaryOf, type PublishedEpoch } from "./published.ts";

/** One change of one namespace: its entries and deletions, at `revision`, after the namespace as written (`state`). */
export interface ChangeToSign {
  epoch: string;
  namespace: string;
  state: PublishedNamespace;
  revision: number;
  drafts: readonly Draft[];
  dels: readonly string[];
}

export interface SignedChange {
  /** The entries as signed, with their fields. */
  sealed: { entry: Entry; field: string }[];
  /** The namespace's digest after the change; `commit()` once Redis has it. */
  preview: { commit(): void };
  /** ARGV of vigilApplyChange (scripts.ts). */
  args: string[];
}

export function signChange(c: ChangeToSign, key: SigningKey, maxLength: string): SignedChange {
  const { epoch, namespace, revision, state, dels } = c;
  const entries = c.drafts.map((draft) => ({ v: 2 as const, epoch, namespace, revision, ...draft }));
  const sealed = entries.map((entry) => ({ entry, field: entryField(entry), ...seal(entry, key) }));
  const preview = state.digest.preview([...sealed.map((s) => ({ field: s.field, hash: entryHash(s.text) })), ...dels.map((field) => ({ field, hash: null }))]);
  const head: HeadBody = { v: 2, type: "head", epoch, namespace, revision, digest: preview.digest, entries: preview.size };
  const changes: Change[] = [...entries.map((entry): Change => ({ op: "put", entry })), ...dels.map((field): Change => ({ op: "delete", field }))];
  const event: EventBody = { v: 2, type: "event", epoch, namespace, revision, prev: state.revision, changes };
  const args = [epoch, String(state.revision), String(revision), seal(head, key).envelope, seal(event, key).envelope, maxLength];
  args.push(String(sealed.length), ...sealed.flatMap((s) => [s.field, s.envelope]), String(dels.length), ...dels);
  return { sealed, preview, args };
}

/** A namespace of a new epoch, signed: what the publisher then holds of it, and what Redis gets. */
export interface SignedNamespace {
  state: PublishedNamespace;
  /** The entries hash as HSET arguments: field, envelope, field, envelope… */
  fields: string[];
  head: string;
  /** The stream's first event (no changes, prev 0). */
  event: string;
}

export function signNamespace(c: Omit<ChangeToSign, "state" | "dels">, key: SigningKey): SignedNamespace {
  const { epoch, namespace, revision } = c;
  const state = new PublishedNamespace();
  const fields: string[] = [];
  const hashes: [string, string][] = [];
  for (const draft of c.drafts) {
    const entry = { v: 2, epoch, namespace, revision, ...draft } as Entry;
    const sealed = seal(entry, key);
    fields.push(entryField(entry), sealed.envelope);
    hashes.push([entryField(entry), entryHash(sealed.text)]);
    state.entries.set(entryField(entry), summaryOf(entry));
  }
  state.digest = new NamespaceDigest(hashes);
  state.revision = revision;
  const head: HeadBody = { v: 2, type: "head", epoch, namespace, revision, digest: state.digest.digest, entries: state.digest.size };
  const event: EventBody = { v: 2, type: "event", epoch, namespace, revision, prev: 0, changes: [] };
  return { state, fields, head: seal(head, key).envelope, event: seal(event, key).envelope };
}

/** The epoch record's envelope, signed at `signedAt` (sidecars measure staleness from it). */
export function signEpoch(epoch: PublishedEpoch, signedAt: number, key: SigningKey): string {
  return seal({ v: 2, type: "epoch", epoch: epoch.id, createdAt: epoch.createdAt, signedAt }, key).envelope;
}

/** The key id of the epoch record's envelope (already verified by the caller). */
export function kidOf(epochHash: unknown): string {
  const signed = new Map(pairsOf(epochHash)).get("signed");
  try {
    const parsed = typeof signed === "string" ? (JSON.parse(signed) as { kid?: unknown }) : {};
    return typeof parsed.kid === "string" ? parsed.kid : "";
  } catch {
    return "";
  }
}

/** The signed body text inside an envelope, without verifying it (the caller compares it with what it wrote). */
export function bodyTextOf(envelope: string): string | undefined {
  try {
    const parsed = JSON.parse(envelope) as { body?: unknown };
    return typeof parsed.body === "string" ? parsed.body : undefined;
  } catch {
    return undefined;
  }
}
