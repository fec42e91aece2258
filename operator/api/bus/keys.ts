/**
 * Redis key names of the policy bus (layout documented in messages.ts), built from one prefix.
 * For Redis Cluster, put a hash tag in the prefix (`{vigil}:`) so every bus key lives in one slot: the
 * publisher's scripts and the readers' MULTI touch several keys at once.
 */

export const DEFAULT_BUS_PREFIX = "vigil:";
/** The single field of every stream entry. */
export const STREAM_MESSAGE_FIELD = "m";

export interface NamespaceKeys {
  head: string;
  entries: string;
  events: string;
}

export interface BusKeys {
  prefix: string;
  epoch: string;
  revision: string;
  sidecars: string;
  ackEvents: string;
  /** The capped, sealed audit stream (operator/api/audit/stream.ts): sidecars write, every operator replica reads. */
  audit: string;
  /** SCAN pattern matching every namespace key (for a rebuild). */
  namespacePattern: string;
  namespace(name: string): NamespaceKeys;
  acks(terminationId: string): string;
  /** The sealed session record (sidecar/sessions/store.ts writes it; the operator reads it). */
  sessionRecord(sessionId: string): string;
  /** Session key (hash of issuer + session claim) → session ID. */
  sessionIndex(sessionKey: string): string;
  /** An identity's recent locations, sealed (purpose `locations`; sidecar/protect/locations.ts). */
  locations(identityKey: string): string;
  /** ZSET of an identity's sessions on the workloads of one policy (sidecar/protect/concurrency.ts). */
  concurrentSessions(namespace: string, policy: string, identityKey: string): string;
  /** STREAM: sidecars ask the operator to end a session everywhere (a protection in Enforce). */
  endRequests: string;
  /** A signal's `jti` seen (replay refusal; operator/signals). */
  signalJti(issuerAndJti: string): string;
  /** An SSF stream this receiver created at a transmitter (its stream_id and poll URL; operator/signals/ssf). */
  ssfStream(name: string): string;
  /** An SSF stream's verification: the state asked for last and when it was echoed (operator/signals/ssf/verification.ts). */
  ssfVerification(name: string): string;
}

export class BusKeyError extends Error {
  readonly code = "BUS_INVALID_PREFIX";

  constructor(message: string) {
    super(message);
    this.name = "BusKeyError";
  }
}

const PREFIX = /^[\x21-\x7e]{1,128}$/u;
const GLOB_SPECIAL = /[*?[\]\\]/gu;

/** Throws BusKeyError (code BUS_INVALID_PREFIX) for an empty, over-long or non-printable prefix. */
export function busKeys(prefix: string = DEFAULT_BUS_PREFIX): BusKeys {
  if (!PREFIX.test(prefix)) {
    throw new BusKeyError("bus key prefix must be 1-128 printable ASCII characters without spaces");
  }
  return Object.freeze({
    prefix,
    epoch: `${prefix}epoch`,
    revision: `${prefix}revision`,
    sidecars: `${prefix}sidecars`,
    ackEvents: `${prefix}ack-events`,
    audit: `${prefix}audit`,
    namespacePattern: `${prefix.replace(GLOB_SPECIAL, (c) => `\\${c}`)}ns:*`,
    namespace: (name: string) => ({
      head: `${prefix}ns:${name}:head`,
      entries: `${prefix}ns:${name}:entries`,
      events: `${prefix}ns:${name}:events`,
    }),
    acks: (terminationId: string) => `${prefix}acks:${terminationId}`,
    sessionRecord: (sessionId: string) => `${prefix}session:${sessionId}`,
    sessionIndex: (sessionKey: string) => `${prefix}session-index:${sessionKey}`,
    locations: (identityKey: string) => `${prefix}locations:${identityKey}`,
    concurrentSessions: (namespace: string, policy: string, identityKey: string) => `${prefix}concurrent:${namespace}:${policy}:${identityKey}`,
    endRequests: `${prefix}end-requests`,
    signalJti: (issuerAndJti: string) => `${prefix}signal-jti:${issuerAndJti}`,
    ssfStream: (name: string) => `${prefix}ssf-stream:${name}`,
    ssfVerification: (name: string) => `${prefix}ssf-verification:${name}`,
  });
}

/** The namespace a key matched by `namespacePattern` belongs to, or null for anything else. */
export function namespaceOfKey(keys: BusKeys, key: string): string | null {
  const start = `${keys.prefix}ns:`;
  if (!key.startsWith(start)) return null;
  const rest = key.slice(start.length);
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(head|entries|events)$/u.exec(rest);
  return m?.[1] ?? null;
}

/** Field of a sidecar in `P sidecars` and of an ack in `P acks:<id>`. */
export function podField(namespace: string, pod: string): string {
  return `${namespace}/${pod}`;
}
