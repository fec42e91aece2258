/**
 * Signing and verification of operator-written bus messages (Ed25519; threat model in
 * docs/decisions/bus-0006-bus-integrity.md).
 *
 * `seal(body, key)` encodes the body as JSON text and signs `SIGNING_CONTEXT + text`; the envelope carries the
 * key id, the signature and the exact signed text, so readers verify bytes, never a re-serialisation.
 * `open(raw, keys)` checks, in this order: size and JSON (codec.ts), that it is an envelope at all
 * (BUS_UNSIGNED otherwise), the key id (BUS_UNKNOWN_KEY), the signature (BUS_BAD_SIGNATURE), then the body's
 * version, type and schema. It never throws. Pure apart from the CPU work of the signature.
 */
import { sign, verify, type KeyObject } from "node:crypto";
import { failure, parseObject, validate, type Decoded } from "./codec.ts";
import type { Body, Envelope } from "./messages.ts";
import { bodySchema, envelopeSchema } from "./schema.ts";

/** Domain separation: a signature made for anything else never verifies as a bus message. */
export const SIGNING_CONTEXT = "vigil-bus/v2\n";
const TYPES: ReadonlySet<string> = new Set(["epoch", "head", "policy", "revocation", "event"]);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

/** Key id → Ed25519 public key. */
export type VerifyingKeys = ReadonlyMap<string, KeyObject>;

export interface Opened<T extends Body = Body> {
  body: T;
  /** The exact signed text (what digest.ts hashes). */
  text: string;
  kid: string;
}

export interface Sealed {
  /** The envelope as stored in Redis. */
  envelope: string;
  /** The signed body text (what digest.ts hashes). */
  text: string;
}

export function seal(body: Body, key: SigningKey): Sealed {
  const text = JSON.stringify(body);
  const signature = sign(null, Buffer.from(SIGNING_CONTEXT + text, "utf8"), key.privateKey);
  const envelope: Envelope = { v: 2, kid: key.kid, sig: signature.toString("base64url"), body: text };
  return { envelope: JSON.stringify(envelope), text };
}

export function open(raw: unknown, keys: VerifyingKeys): Decoded<Opened> {
  const parsed = parseObject(raw);
  if (!parsed.ok) return parsed;
  if (!("sig" in parsed.value) || !("kid" in parsed.value) || !("body" in parsed.value)) {
    return failure("BUS_UNSIGNED", "message is not signed");
  }
  const envelope = validate(envelopeSchema, parsed.value);
  if (!envelope.ok) return envelope;
  const { kid, sig, body: text } = envelope.value;
  const key = keys.get(kid);
  if (key === undefined) return failure("BUS_UNKNOWN_KEY", "message is signed with an unknown key");
  let valid: boolean;
  try {
    valid = verify(null, Buffer.from(SIGNING_CONTEXT + text, "utf8"), key, Buffer.from(sig, "base64url"));
  } catch {
    valid = false;
  }
  if (!valid) return failure("BUS_BAD_SIGNATURE", "message signature does not verify");
  const inner = parseObject(text);
  if (!inner.ok) return inner;
  if (inner.value.v !== 2) return failure("BUS_UNKNOWN_VERSION", "unknown wire version (expected v=2)");
  if (typeof inner.value.type !== "string" || !TYPES.has(inner.value.type)) return failure("BUS_UNKNOWN_TYPE", "unknown message type");
  const body = validate(bodySchema, inner.value);
  if (!body.ok) return body;
  return { ok: true, value: { body: body.value, text, kid } };
}

/** `open`, then require one body type (BUS_UNKNOWN_TYPE otherwise). */
export function openAs<K extends Body["type"]>(raw: unknown, keys: VerifyingKeys, type: K): Decoded<Opened<Extract<Body, { type: K }>>> {
  const opened = open(raw, keys);
  if (!opened.ok) return opened;
  if (opened.value.body.type !== type) return failure("BUS_UNKNOWN_TYPE", `expected a ${type} message, got ${opened.value.body.type}`);
  return opened as Decoded<Opened<Extract<Body, { type: K }>>>;
}
