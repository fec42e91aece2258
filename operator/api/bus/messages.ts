import type { CompiledPolicy } from "../compiled-policy.ts";

/**
 * The policy bus contract shared by vigil-operator and vigil-sidecar (wire version 2).
 *
 * The operator is the only writer of enforcement state and SIGNS everything it writes (Ed25519, see
 * envelope.ts); sidecars verify every message with public keys mounted from Kubernetes and never trust
 * Redis for anything they enforce. Redis keys (keys.ts), all under a configurable prefix P:
 *
 *   P epoch                HASH   id → epoch id, signed → Envelope(EpochBody)        re-signed every few seconds
 *   P revision             STRING highest revision written (informational; seeds the operator's floor)
 *   P ns:<ns>:head         HASH   revision → n, signed → Envelope(HeadBody)          one per namespace
 *   P ns:<ns>:entries      HASH   p:<name> | r:<id> → Envelope(PolicyEntry | RevocationEntry)
 *   P ns:<ns>:events       STREAM field m → Envelope(EventBody), capped (MAXLEN ~)
 *   P sidecars             HASH   <ns>/<pod> → Heartbeat JSON          (written by sidecars, unsigned)
 *   P acks:<terminationId> HASH   <ns>/<pod> → Ack JSON                (written by sidecars, unsigned, TTL)
 *   P ack-events           STREAM field m → terminationId              (wakes the operator on late acks)
 *   P session:<id>         STRING sealed session record (lib/sealing.ts; written by sidecars, read by the operator)
 *   P session-index:<key>  STRING session ID of a session key
 *
 * Epoch: one random id per (re)build of the whole bus by the operator. A rebuild writes every namespace's
 * entries and heads and the epoch record in one MULTI, so readers see the old bus or the new one, never a
 * part. A bus without a valid epoch record is STALE for a sidecar (it keeps its last view), never "empty".
 * Revisions are global and strictly increasing (the operator's floor survives Redis loss through resource
 * status). Each namespace's changes form a chain: an event names the revision it follows (`prev`).
 * Head: the signed digest (digest.ts) of every entry of the namespace, so a snapshot can be checked for
 * completeness and freshness: an entry removed, added, replayed or altered by anyone but the operator fails it.
 * Revocations leave a sidecar's view only by expiry or an authenticated lift (an entry with `liftedAt`),
 * never because a snapshot no longer has them.
 */

/** What a termination applies to. `all` = every session of the namespace's workloads. */
export type TerminationSelector =
  | { kind: "session"; sessionId: string; sessionKey?: string | undefined }
  | { kind: "subject"; subject: string; issuer?: string | undefined }
  | { kind: "email"; email: string }
  | { kind: "group"; group: string }
  | { kind: "all" };

export interface Revocation {
  /** `<namespace>/<name>/<uid>` of the SessionTermination. */
  id: string;
  namespace: string;
  selector: TerminationSelector;
  reason: string;
  /**
   * Epoch ms: tokens issued (`iat`) at or before this, and sessions started at or before it, are covered.
   * The operator sets it to the termination's creation time plus the configured clock-skew allowance.
   */
  tokensIssuedBefore: number;
  /** Epoch ms after which the revocation no longer applies. */
  expiresAt: number;
}

interface EntryHeader {
  v: 2;
  epoch: string;
  namespace: string;
  /** Revision at which this entry was last written. */
  revision: number;
}

export interface PolicyEntry extends EntryHeader {
  type: "policy";
  policy: CompiledPolicy;
}

export interface RevocationEntry extends EntryHeader {
  type: "revocation";
  revocation: Revocation;
  /** Epoch ms the revocation was lifted (its SessionTermination deleted); absent while in force. */
  liftedAt?: number | undefined;
}

export type Entry = PolicyEntry | RevocationEntry;

export type Change = { op: "put"; entry: Entry } | { op: "delete"; field: string };

export interface EventBody {
  v: 2;
  type: "event";
  epoch: string;
  namespace: string;
  revision: number;
  /** Revision of the namespace before this event (0 for the first one of an epoch). */
  prev: number;
  changes: Change[];
}

export interface HeadBody {
  v: 2;
  type: "head";
  epoch: string;
  namespace: string;
  revision: number;
  /** digest.ts over every entry of the namespace. */
  digest: string;
  entries: number;
}

export interface EpochBody {
  v: 2;
  type: "epoch";
  epoch: string;
  /** Epoch ms the bus was (re)built. */
  createdAt: number;
  /** Epoch ms of this signature: the operator re-signs periodically, so readers can tell a live bus from a replayed one. */
  signedAt: number;
}

export type Body = EpochBody | HeadBody | PolicyEntry | RevocationEntry | EventBody;

/** The signed wrapper of every operator-written message: `body` is the exact JSON text that was signed. */
export interface Envelope {
  v: 2;
  kid: string;
  /** base64url Ed25519 signature over `SIGNING_CONTEXT + body`. */
  sig: string;
  body: string;
}

export interface Heartbeat {
  v: 2;
  pod: string;
  namespace: string;
  labels: Record<string, string>;
  /** Epoch the sidecar's view belongs to ("" before the first verified snapshot). */
  epoch: string;
  /** Highest bus revision of its namespace the sidecar has applied. */
  appliedRevision: number;
  /** Code of the last integrity failure seen on the bus since the last good snapshot ("" when none): asks the operator to repair. */
  integrity: string;
  /** Epoch ms. */
  at: number;
}

export interface Ack {
  v: 2;
  terminationId: string;
  pod: string;
  namespace: string;
  sessionsTerminated: number;
  connectionsClosed: number;
  /** Epoch ms. */
  at: number;
}

/** Hash field of an entry in `P ns:<ns>:entries`. */
export function entryField(entry: Entry): string {
  return entry.type === "policy" ? policyField(entry.policy.name) : revocationField(entry.revocation.id);
}

export const policyField = (name: string): string => `p:${name}`;
export const revocationField = (id: string): string => `r:${id}`;
