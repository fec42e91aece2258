/**
 * Sealed records (personal data at rest in Redis): AES-256-GCM under a key ring (NIST SP 800-38D), shared by the
 * sidecar (session records) and the operator (which reads them).
 *
 * Format: `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts). Each seal uses a fresh random
 * 96-bit IV from the CSPRNG; the full 16-byte tag is required on open (`authTagLength: 16`); the
 * AAD `vigil/<purpose>/v1|<subject>|<kid>` binds the record to what it is (`session` records to their session ID)
 * and to its key, so a record copied under another ID or purpose, or relabelled with another kid, does not open.
 * `seal` always uses the primary key; `open` accepts any key still in the ring (rotation: add the
 * new key, make it primary, retire the old one once its records have expired).
 * `ring.seal`/`ring.open` are the `session` purpose; `ring.for(purpose)` gives the same for another purpose.
 * `ring.derive(purpose)` is a 32-byte key derived from the primary key with HKDF-SHA256 (info `vigil/<purpose>/v1`),
 * for keyed hashes that must agree across processes holding the same ring (lib/correlation.ts).
 * Every failure of `open` is a `SealError` (code SEALED_RECORD_INVALID) with the reason in the message; nothing is
 * thrown for bad input other than that. Ring construction errors are `KeyRingError`s naming the bad key.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";

/** A record that does not open (tampered, another key, another subject or purpose, malformed). */
export class SealError extends Error {
  readonly code = "SEALED_RECORD_INVALID";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SealError";
  }
}

/** A key ring that cannot be built; `key` names the bad part (`keys[0].id`, a file path, `primary`). */
export class KeyRingError extends Error {
  readonly code = "KEY_RING_INVALID";
  readonly key: string;

  constructor(key: string, problem: string, options?: { cause?: unknown }) {
    super(`${key}: ${problem}`, options);
    this.name = "KeyRingError";
    this.key = key;
  }
}

export const KEY_ID = /^[a-z0-9-]{1,32}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]*$/;
/** Records are small JSON objects; anything larger is refused before any crypto. */
export const MAX_SEALED_LENGTH = 256 * 1024;

export interface KeyRingInput {
  keys: { id: string; key: Buffer }[];
  primary: string;
}

export interface Sealer {
  seal: (subject: string, plaintext: object) => string;
  open: (subject: string, sealed: string) => Record<string, unknown>;
}

export interface KeyRing extends Sealer {
  readonly primary: string;
  readonly keyIds: readonly string[];
  /** The sealer of another purpose (its AAD names it): `session` is the ring's own seal/open. */
  for(purpose: string): Sealer;
  /** A key for `purpose` derived from the primary key (HKDF-SHA256); changes when the primary changes. */
  derive(purpose: string): Buffer;
}

export function createKeyRing(input: KeyRingInput): KeyRing {
  // KeyObjects, not Buffers: a cipher built from a Buffer key copies and wraps it on every seal and open.
  const keys = new Map<string, KeyObject>();
  input.keys.forEach(({ id, key }, i) => {
    if (typeof id !== "string" || !KEY_ID.test(id)) throw new KeyRingError(`keys[${i}].id`, "must match [a-z0-9-]{1,32}");
    if (keys.has(id)) throw new KeyRingError(`keys[${i}].id`, `duplicate key id ${id}`);
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new KeyRingError(`keys[${i}].key`, "must be exactly 32 bytes");
    keys.set(id, createSecretKey(Buffer.from(key)));
  });
  if (keys.size === 0) throw new KeyRingError("keys", "at least one key is required");
  if (!keys.has(input.primary)) throw new KeyRingError("primary", "must name a key in the ring");
  const primary = input.primary;
  const primaryKey = keys.get(primary) as KeyObject;
  const session = sealerFor("session", keys, primary, primaryKey);
  return {
    primary,
    keyIds: [...keys.keys()],
    seal: session.seal,
    open: session.open,
    for: (purpose) => sealerFor(purpose, keys, primary, primaryKey),
    derive: (purpose) => Buffer.from(hkdfSync("sha256", primaryKey, Buffer.alloc(0), `vigil/${purpose}/v1`, KEY_BYTES)),
  };
}

function sealerFor(purpose: string, keys: ReadonlyMap<string, KeyObject>, primary: string, primaryKey: KeyObject): Sealer {
  return {
    seal(subject, plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", primaryKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(purpose, subject, primary));
      const ct = Buffer.concat([cipher.update(JSON.stringify(plaintext), "utf8"), cipher.final()]);
      return ["v1", primary, iv.toString("base64url"), ct.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
    },
    open(subject, sealed) {
      if (typeof sealed !== "string" || sealed.length > MAX_SEALED_LENGTH) throw invalid("the record is not a string of acceptable size");
      const parts = sealed.split(".");
      if (parts.length !== 5 || parts[0] !== "v1") throw invalid("unknown record format");
      const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
      const key = keys.get(kid);
      if (key === undefined) throw invalid("the record was sealed with a key that is not in the ring");
      const iv = decodePart(ivText);
      const ct = decodePart(ctText);
      const tag = decodePart(tagText);
      if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ct === undefined) throw invalid("malformed record");
      let text: string;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(purpose, subject, kid));
        decipher.setAuthTag(tag);
        text = Buffer.concat([decipher.update(ct), decipher.final()]).toString("utf8");
      } catch (cause) {
        throw invalid("the record failed authentication", cause);
      }
      return parseObject(text);
    },
  };
}

function aad(purpose: string, subject: string, kid: string): Buffer {
  return Buffer.from(`vigil/${purpose}/v1|${subject}|${kid}`, "utf8");
}

function decodePart(text: string): Buffer | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, "base64url");
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalid("the record is not JSON", cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("the record is not a JSON object");
  return value as Record<string, unknown>;
}

function invalid(reason: string, cause?: unknown): SealError {
  return new SealError(`The sealed record is invalid: ${reason}.`, cause === undefined ? {} : { cause });
}
