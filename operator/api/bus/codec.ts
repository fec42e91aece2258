/**
 * Decoding and encoding of every bus message (wire format in messages.ts, schemas in schema.ts).
 *
 * Contract: decoders take whatever Redis returned (`unknown`), never throw, reject input above
 * MAX_BUS_MESSAGE_BYTES before parsing, reject any `__proto__` key anywhere, and return a freshly built value
 * that contains only the known fields, or a stable error code:
 *   BUS_MALFORMED_JSON  not a string, not JSON, or nested too deeply to parse
 *   BUS_TOO_LARGE       more than MAX_BUS_MESSAGE_BYTES
 *   BUS_UNSIGNED        an operator message without a signature envelope
 *   BUS_UNKNOWN_KEY     signed with a key id this reader does not hold
 *   BUS_BAD_SIGNATURE   the signature does not verify
 *   BUS_UNKNOWN_VERSION `v` is not 2
 *   BUS_UNKNOWN_TYPE    unknown `type`
 *   BUS_INVALID_FIELD   a field fails its schema (the message names the field)
 * and, for whole snapshots and the stream (snapshot.ts, the sidecar's subscriber):
 *   BUS_NO_EPOCH        no valid epoch record: the bus is not built (or was lost) — stale, never "empty"
 *   BUS_INCONSISTENT    a head or entry of another epoch or namespace, or stored under the wrong field
 *   BUS_DIGEST_MISMATCH the entries do not match the signed head (removed, added, replayed or altered)
 *   BUS_REPLAYED        an older epoch, head or event than one already applied
 * Encoders are JSON.stringify of the typed value; `seal` (envelope.ts) signs the encoded text.
 */
import type { z } from "zod";
import type { Ack, Heartbeat } from "./messages.ts";
import { ackSchema, heartbeatSchema } from "./schema.ts";

export const MAX_BUS_MESSAGE_BYTES = 1024 * 1024;

export type BusErrorCode =
  | "BUS_MALFORMED_JSON"
  | "BUS_TOO_LARGE"
  | "BUS_UNSIGNED"
  | "BUS_UNKNOWN_KEY"
  | "BUS_BAD_SIGNATURE"
  | "BUS_UNKNOWN_VERSION"
  | "BUS_UNKNOWN_TYPE"
  | "BUS_INVALID_FIELD"
  // Snapshot and stream checks (snapshot.ts, the sidecar's subscriber):
  | "BUS_NO_EPOCH"
  | "BUS_INCONSISTENT"
  | "BUS_DIGEST_MISMATCH"
  | "BUS_REPLAYED";

export interface BusDecodeError {
  code: BusErrorCode;
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: BusDecodeError };

export const failure = (code: BusErrorCode, message: string): { ok: false; error: BusDecodeError } => ({
  ok: false,
  error: { code, message },
});

/** `raw` (string or Buffer) → a JSON object, size-gated, without any `__proto__` key. */
export function parseObject(raw: unknown): Decoded<Record<string, unknown>> {
  const text = typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? raw.toString("utf8") : null;
  if (text === null) return failure("BUS_MALFORMED_JSON", "message is not a string");
  if (text.length > MAX_BUS_MESSAGE_BYTES || Buffer.byteLength(text, "utf8") > MAX_BUS_MESSAGE_BYTES) {
    return failure("BUS_TOO_LARGE", `message exceeds ${MAX_BUS_MESSAGE_BYTES} bytes`);
  }
  let value: unknown;
  const seen = { proto: false };
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (key === "__proto__") seen.proto = true;
      return v;
    });
  } catch {
    // Deeply nested input can exhaust the stack inside JSON.parse: malformed too.
    return failure("BUS_MALFORMED_JSON", "message is not valid JSON");
  }
  if (seen.proto) return failure("BUS_INVALID_FIELD", "message contains a __proto__ key");
  if (typeof value !== "object" || value === null || Array.isArray(value)) return failure("BUS_INVALID_FIELD", "message must be a JSON object");
  return { ok: true, value: value as Record<string, unknown> };
}

/** Validates a parsed object against a schema; the first problem names its field. */
export function validate<T>(schema: z.ZodType<T>, value: unknown): Decoded<T> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? "message" : issue.path.map(String).join(".");
  return failure("BUS_INVALID_FIELD", `${field}: ${issue?.message ?? "invalid"}`);
}

function decodeVersioned<T>(raw: unknown, schema: z.ZodType<T>): Decoded<T> {
  const parsed = parseObject(raw);
  if (!parsed.ok) return parsed;
  if (parsed.value.v !== 2) return failure("BUS_UNKNOWN_VERSION", "unknown wire version (expected v=2)");
  return validate(schema, parsed.value);
}

export const decodeHeartbeat = (raw: unknown): Decoded<Heartbeat> => decodeVersioned(raw, heartbeatSchema);
export const decodeAck = (raw: unknown): Decoded<Ack> => decodeVersioned(raw, ackSchema);
export const encodeHeartbeat = (value: Heartbeat): string => JSON.stringify(value);
export const encodeAck = (value: Ack): string => JSON.stringify(value);
