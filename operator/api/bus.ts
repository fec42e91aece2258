import type { CompiledPolicy } from "./compiled-policy.ts";

/**
 * The policy bus contract shared by vigil-operator and vigil-sidecar (Redis).
 *
 * Key layout, all under a configurable prefix P (default `vigil:`):
 *   P revision           INCR counter: the monotonic bus revision
 *   P policies           HASH  `<ns>/<name>` → JSON StoredPolicy        (snapshot, one round trip with the rest)
 *   P revocations        HASH  `<terminationId>` → JSON Revocation        (durable; expiry inside, pruned by the operator)
 *   P events             STREAM (capped, MAXLEN ~) field `m` → JSON BusEvent
 *   P sidecars           HASH  `<podNamespace>/<podName>` → JSON Heartbeat
 *   P acks:<terminationId> HASH `<podNamespace>/<podName>` → JSON Ack   (TTL)
 *
 * Every message carries `v` (wire version) and `type`; every change carries the revision it was
 * published at. Readers validate every message and skip (and count) what does not validate.
 * Revocations are written to P revocations before the termination event is appended to P events.
 */
export const BUS_WIRE_VERSION = 1;

export interface StoredPolicy {
  v: 1;
  revision: number;
  policy: CompiledPolicy;
}

/** What a termination applies to. `all` = every session seen by sidecars in `namespace`. */
export type TerminationSelector =
  | { kind: "session"; sessionId: string }
  | { kind: "subject"; subject: string; issuer?: string }
  | { kind: "email"; email: string }
  | { kind: "group"; group: string }
  | { kind: "all" };

export interface Revocation {
  v: 1;
  /** `<namespace>/<name>/<uid>` of the SessionTermination. */
  id: string;
  namespace: string;
  selector: TerminationSelector;
  reason: string;
  /** Epoch ms: tokens issued (`iat`) before this are refused for matching identities. */
  issuedAt: number;
  /** Epoch ms after which the record no longer applies. */
  expiresAt: number;
  revision: number;
}

export type BusEvent =
  | { v: 1; type: "policy.upsert"; revision: number; policy: CompiledPolicy }
  | { v: 1; type: "policy.delete"; revision: number; namespace: string; name: string }
  | { v: 1; type: "termination"; revision: number; revocation: Revocation };

export interface Heartbeat {
  v: 1;
  pod: string;
  namespace: string;
  labels: Record<string, string>;
  /** Highest bus revision the sidecar has applied. */
  appliedRevision: number;
  /** Epoch ms. */
  at: number;
}

export interface Ack {
  v: 1;
  terminationId: string;
  pod: string;
  namespace: string;
  sessionsTerminated: number;
  connectionsClosed: number;
  /** Epoch ms. */
  at: number;
}
