/**
 * Correlation ids of sessions: `c_` + 22 base64url characters of HMAC-SHA256(key, session id), the key derived from
 * the session key ring (`ring.derive("correlation")`). Every sidecar and operator replica holding the ring computes
 * the same id for the same session, so log lines of one session correlate across pods; without the ring the id
 * cannot be linked back to the session id (the session id is a 128-bit CSPRNG value, the key 256 bits). Rotating
 * the ring's primary key starts new correlation ids (docs/decisions/audit-0001-audit-stream.md).
 *
 * `correlator(ring)` memoises the last few thousand ids (one HMAC per session and process, not per event), its key
 * imported once.
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import type { KeyRing } from "./sealing.ts";

export type Correlator = (sessionId: string) => string;

/** `key` as a KeyObject: an HMAC built from a Buffer imports the key again on every call. */
export function correlationId(key: Buffer | KeyObject, sessionId: string): string {
  return `c_${createHmac("sha256", key).update(sessionId).digest("base64url").slice(0, 22)}`;
}

export function correlator(ring: Pick<KeyRing, "derive">, memo = 4096): Correlator {
  const key = createSecretKey(ring.derive("correlation"));
  const known = new Map<string, string>();
  return (sessionId) => {
    let id = known.get(sessionId);
    if (id === undefined) {
      id = correlationId(key, sessionId);
      if (known.size >= memo) known.clear();
      known.set(sessionId, id);
    }
    return id;
  };
}
