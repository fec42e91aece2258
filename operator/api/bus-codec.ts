import type { Ack, BusEvent, Heartbeat, Revocation, StoredPolicy, TerminationSelector } from "./bus.ts";
import { compiledPolicy } from "./bus-validate-policy.ts";
import {
  anyStringOrEmpty,
  FieldError,
  integer,
  literal,
  object,
  oneOf,
  optional,
  record,
  string,
} from "./bus-validate.ts";

/**
 * Decoders and encoders for every bus message (wire format in bus.ts).
 *
 * Contract: decoders take whatever Redis returned (`unknown`), never throw, reject input above
 * MAX_BUS_MESSAGE_BYTES before parsing, reject any `__proto__` key anywhere, check `v` then `type`
 * then every field (including the nested CompiledPolicy), and return a freshly built value that
 * contains only the known fields. Encoders are plain JSON.stringify of the typed value.
 */

export const MAX_BUS_MESSAGE_BYTES = 1024 * 1024;

export type BusDecodeErrorCode =
  | "BUS_MALFORMED_JSON"
  | "BUS_TOO_LARGE"
  | "BUS_UNKNOWN_VERSION"
  | "BUS_UNKNOWN_TYPE"
  | "BUS_INVALID_FIELD";

export interface BusDecodeError {
  code: BusDecodeErrorCode;
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: BusDecodeError };

const EVENT_TYPES = ["policy.upsert", "policy.delete", "termination"] as const;

class DecodeFailure extends Error {
  readonly code: BusDecodeErrorCode;

  constructor(code: BusDecodeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function parse(raw: unknown): Record<string, unknown> {
  const text = typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? raw.toString("utf8") : null;
  if (text === null) throw new DecodeFailure("BUS_MALFORMED_JSON", "message is not a string");
  if (text.length > MAX_BUS_MESSAGE_BYTES || Buffer.byteLength(text, "utf8") > MAX_BUS_MESSAGE_BYTES) {
    throw new DecodeFailure("BUS_TOO_LARGE", `message exceeds ${MAX_BUS_MESSAGE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (key === "__proto__") throw new DecodeFailure("BUS_INVALID_FIELD", "message contains a __proto__ key");
      return v;
    });
  } catch (error: unknown) {
    if (error instanceof DecodeFailure) throw error;
    throw new DecodeFailure("BUS_MALFORMED_JSON", "message is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DecodeFailure("BUS_INVALID_FIELD", "message must be a JSON object");
  }
  const message = value as Record<string, unknown>;
  if (message.v !== 1) throw new DecodeFailure("BUS_UNKNOWN_VERSION", "unknown wire version (expected v=1)");
  return message;
}

function decodeWith<T>(raw: unknown, read: (message: Record<string, unknown>) => T): Decoded<T> {
  try {
    return { ok: true, value: read(parse(raw)) };
  } catch (error: unknown) {
    if (error instanceof DecodeFailure) return { ok: false, error: { code: error.code, message: error.message } };
    if (error instanceof FieldError) return { ok: false, error: { code: "BUS_INVALID_FIELD", message: error.message } };
    // Deeply nested input can exhaust the stack inside JSON.parse's reviver; treat any other failure as malformed.
    return { ok: false, error: { code: "BUS_MALFORMED_JSON", message: "message could not be decoded" } };
  }
}

const revisionOf = (o: Record<string, unknown>): number => integer(o.revision, "revision");
const epochMs = (v: unknown, f: string): number => integer(v, f, 0, 8_640_000_000_000_000);

function selector(value: unknown, field: string): TerminationSelector {
  const o = object(value, field);
  const kind = oneOf(o.kind, `${field}.kind`, ["session", "subject", "email", "group", "all"] as const);
  switch (kind) {
    case "session":
      return { kind, sessionId: string(o.sessionId, `${field}.sessionId`, 1, 256) };
    case "subject": {
      const issuer = optional(o.issuer, `${field}.issuer`, (v, f) => string(v, f, 1, 2048));
      const subject = string(o.subject, `${field}.subject`, 1, 1024);
      return issuer === undefined ? { kind, subject } : { kind, subject, issuer };
    }
    case "email":
      return { kind, email: string(o.email, `${field}.email`, 1, 1024) };
    case "group":
      return { kind, group: string(o.group, `${field}.group`, 1, 1024) };
    case "all":
      return { kind };
  }
}

function revocation(value: unknown, field: string): Revocation {
  const o = object(value, field);
  return {
    v: literal(o.v, `${field}.v`, 1),
    id: string(o.id, `${field}.id`, 1, 1024),
    namespace: string(o.namespace, `${field}.namespace`, 1, 253),
    selector: selector(o.selector, `${field}.selector`),
    reason: string(o.reason, `${field}.reason`, 0, 4096),
    issuedAt: epochMs(o.issuedAt, `${field}.issuedAt`),
    expiresAt: epochMs(o.expiresAt, `${field}.expiresAt`),
    revision: integer(o.revision, `${field}.revision`),
  };
}

function event(o: Record<string, unknown>): BusEvent {
  const type = EVENT_TYPES.find((t) => t === o.type);
  if (type === undefined) throw new DecodeFailure("BUS_UNKNOWN_TYPE", "unknown event type");
  switch (type) {
    case "policy.upsert":
      return { v: 1, type, revision: revisionOf(o), policy: compiledPolicy(o.policy, "policy") };
    case "policy.delete":
      return {
        v: 1,
        type,
        revision: revisionOf(o),
        namespace: string(o.namespace, "namespace", 1, 253),
        name: string(o.name, "name", 1, 253),
      };
    case "termination":
      return { v: 1, type, revision: revisionOf(o), revocation: revocation(o.revocation, "revocation") };
  }
}

export function decodeEvent(raw: unknown): Decoded<BusEvent> {
  return decodeWith(raw, event);
}

export function decodeStoredPolicy(raw: unknown): Decoded<StoredPolicy> {
  return decodeWith(raw, (o) => ({ v: 1, revision: revisionOf(o), policy: compiledPolicy(o.policy, "policy") }));
}

export function decodeRevocation(raw: unknown): Decoded<Revocation> {
  return decodeWith(raw, (o) => revocation(o, "revocation"));
}

export function decodeHeartbeat(raw: unknown): Decoded<Heartbeat> {
  return decodeWith(raw, (o) => ({
    v: 1,
    pod: string(o.pod, "pod", 1, 253),
    namespace: string(o.namespace, "namespace", 1, 253),
    labels: record(o.labels, "labels", anyStringOrEmpty, 256),
    appliedRevision: integer(o.appliedRevision, "appliedRevision"),
    at: epochMs(o.at, "at"),
  }));
}

export function decodeAck(raw: unknown): Decoded<Ack> {
  return decodeWith(raw, (o) => ({
    v: 1,
    terminationId: string(o.terminationId, "terminationId", 1, 1024),
    pod: string(o.pod, "pod", 1, 253),
    namespace: string(o.namespace, "namespace", 1, 253),
    sessionsTerminated: integer(o.sessionsTerminated, "sessionsTerminated"),
    connectionsClosed: integer(o.connectionsClosed, "connectionsClosed"),
    at: epochMs(o.at, "at"),
  }));
}

export const encodeEvent = (value: BusEvent): string => JSON.stringify(value);
export const encodeStoredPolicy = (value: StoredPolicy): string => JSON.stringify(value);
export const encodeRevocation = (value: Revocation): string => JSON.stringify(value);
export const encodeHeartbeat = (value: Heartbeat): string => JSON.stringify(value);
export const encodeAck = (value: Ack): string => JSON.stringify(value);
