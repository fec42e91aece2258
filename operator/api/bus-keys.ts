/**
 * Redis key names of the policy bus (layout documented in bus.ts), built from one prefix.
 * For Redis Cluster, put a hash tag in the prefix (`{vigil}:`) so every bus key lives in one slot:
 * the publisher's scripts and the snapshot's MULTI touch several keys at once.
 */

export const DEFAULT_BUS_PREFIX = "vigil:";
/** The single field of every stream entry; its value is one JSON BusEvent. */
export const STREAM_MESSAGE_FIELD = "m";

export interface BusKeys {
  prefix: string;
  revision: string;
  policies: string;
  revocations: string;
  events: string;
  sidecars: string;
  acks(terminationId: string): string;
}

export class BusKeyError extends Error {
  readonly code = "BUS_INVALID_PREFIX";

  constructor(message: string) {
    super(message);
    this.name = "BusKeyError";
  }
}

const PREFIX = /^[\x21-\x7e]{1,128}$/u;

/** Throws BusKeyError (code BUS_INVALID_PREFIX) for an empty, over-long or non-printable prefix. */
export function busKeys(prefix: string = DEFAULT_BUS_PREFIX): BusKeys {
  if (!PREFIX.test(prefix)) {
    throw new BusKeyError("bus key prefix must be 1-128 printable ASCII characters without spaces");
  }
  return Object.freeze({
    prefix,
    revision: `${prefix}revision`,
    policies: `${prefix}policies`,
    revocations: `${prefix}revocations`,
    events: `${prefix}events`,
    sidecars: `${prefix}sidecars`,
    acks: (terminationId: string) => `${prefix}acks:${terminationId}`,
  });
}

/** Field of a policy in `P policies` (and of a sidecar in `P sidecars`, an ack in `P acks:<id>`). */
export function objectField(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Inverse of objectField; null unless exactly one `/` separates two non-empty parts. */
export function parseObjectField(field: string): { namespace: string; name: string } | null {
  const parts = field.split("/");
  const [namespace, name] = parts;
  if (parts.length !== 2 || namespace === undefined || name === undefined || namespace === "" || name === "") return null;
  return { namespace, name };
}
