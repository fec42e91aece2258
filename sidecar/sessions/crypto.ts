/**
 * Sealed session records: AES-256-GCM under a key ring (checklist F).
 *
 * Format: `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts). Each seal uses a fresh random
 * 96-bit IV from the CSPRNG; the full 16-byte tag is required on open (`authTagLength: 16`); the
 * AAD `vigil/session/v1|<sessionId>|<kid>` binds the record to its session and key, so a record
 * copied under another session ID, or relabelled with another kid, does not open.
 * `seal` always uses the primary key; `open` accepts any key still in the ring (rotation: add the
 * new key, make it primary, retire the old one once its records have expired).
 * Every failure of `open` is `SidecarError("SESSION_RECORD_INVALID")` (401: treated as no
 * session) with the reason in the message; nothing is thrown for bad input other than that.
 * Ring construction errors are `ConfigError`s naming the bad key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ConfigError, SidecarError } from "../errors.ts";

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

export interface KeyRing {
  readonly primary: string;
  readonly keyIds: readonly string[];
  seal(sessionId: string, plaintext: object): string;
  open(sessionId: string, sealed: string): Record<string, unknown>;
}

export function createKeyRing(input: KeyRingInput): KeyRing {
  const keys = new Map<string, Buffer>();
  input.keys.forEach(({ id, key }, i) => {
    if (typeof id !== "string" || !KEY_ID.test(id)) throw new ConfigError(`keys[${i}].id`, "must match [a-z0-9-]{1,32}");
    if (keys.has(id)) throw new ConfigError(`keys[${i}].id`, `duplicate key id ${id}`);
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new ConfigError(`keys[${i}].key`, "must be exactly 32 bytes");
    keys.set(id, Buffer.from(key));
  });
  if (keys.size === 0) throw new ConfigError("keys", "at least one key is required");
  if (!keys.has(input.primary)) throw new ConfigError("primary", "must name a key in the ring");
  const primary = input.primary;
  const primaryKey = keys.get(primary) as Buffer;

  return {
    primary,
    keyIds: [...keys.keys()],
    seal(sessionId, plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", primaryKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(sessionId, primary));
      const ct = Buffer.concat([cipher.update(JSON.stringify(plaintext), "utf8"), cipher.final()]);
      return ["v1", primary, iv.toString("base64url"), ct.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
    },
    open(sessionId, sealed) {
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
        decipher.setAAD(aad(sessionId, kid));
        decipher.setAuthTag(tag);
        text = Buffer.concat([decipher.update(ct), decipher.final()]).toString("utf8");
      } catch (cause) {
        throw invalid("the record failed authentication", cause);
      }
      return parseObject(text);
    },
  };
}

function aad(sessionId: string, kid: string): Buffer {
  return Buffer.from(`vigil/session/v1|${sessionId}|${kid}`, "utf8");
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

function invalid(reason: string, cause?: unknown): SidecarError {
  return new SidecarError("SESSION_RECORD_INVALID", `The session record is invalid: ${reason}.`, cause === undefined ? {} : { cause });
}
