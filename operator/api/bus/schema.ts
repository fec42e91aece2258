/**
 * zod schemas of every bus message (wire format in messages.ts). The one place that says what a valid message
 * is: every field is checked for type, enum, integer range and length, including the nested CompiledPolicy
 * (canonical CIDRs, absolute paths, lower-case hosts, `endMinute > startMinute`, a time zone `Intl` knows), so a
 * sidecar can evaluate a decoded policy without defensive parsing. Unknown fields are dropped.
 */
import { z } from "zod";
import { canonicalCidr } from "../cidr.ts";
import type { CompiledPolicy } from "../compiled-policy.ts";
import type { Ack, Body, Envelope, Heartbeat, Revocation, TerminationSelector } from "./messages.ts";

const METHODS = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] as const;
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
const MAX_ITEMS = 1024;

const knownZones = new Map<string, boolean>();
function isKnownTimeZone(zone: string): boolean {
  let known = knownZones.get(zone);
  if (known === undefined) {
    try {
      known = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone.length > 0;
    } catch {
      known = false;
    }
    if (knownZones.size < 1000) knownZones.set(zone, known);
  }
  return known;
}

const text = (min: number, max: number): z.ZodString => z.string().min(min).max(max);
const list = <T extends z.ZodType>(item: T, max = MAX_ITEMS): z.ZodArray<T> => z.array(item).max(max);
const count = z.int().min(0);
export const epochMs = z.int().min(0).max(8_640_000_000_000_000);
export const revisionNumber = z.int().min(0);
const namespaceName = text(1, 253);
const absolutePath = z.string().regex(/^\/[^\s?#]*$/u, "must be an absolute path");

const pathMatch = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("any") }),
  z.object({ kind: z.literal("exact"), value: absolutePath }),
  z.object({ kind: z.literal("prefix"), value: absolutePath.refine((p) => p.endsWith("/"), "a prefix must end with /") }),
]);

const compiledRequest = z.object({
  methods: list(z.enum(METHODS), METHODS.length),
  paths: list(pathMatch),
  hosts: list(z.string().regex(/^(\*\.)?[a-z0-9.-]{1,253}$/u, "must be a lower-case host")),
  ports: list(z.int().min(1).max(65535)),
});

const compiledIdentity = z.discriminatedUnion("kind", [
  z.object({ kind: z.enum(["subject", "email", "emailDomain", "group"]), value: text(1, 1024) }),
  z.object({ kind: z.literal("claim"), name: text(1, 1024), values: list(text(1, 64 * 1024)) }),
]);

const scheduleWindow = z
  .object({ days: list(z.enum(DAYS), 7), startMinute: z.int().min(0).max(1439), endMinute: z.int().min(1).max(1440) })
  .refine((w) => w.endMinute > w.startMinute, "endMinute must be after startMinute");

const compiledRule = z.object({
  name: text(1, 63),
  action: z.enum(["Allow", "Deny"]),
  identities: list(compiledIdentity),
  requests: list(compiledRequest),
  sourceCIDRs: list(text(1, 64).refine((c) => canonicalCidr(c) === c, "must be a canonical CIDR")),
  schedule: z.object({ timeZone: text(1, 64).refine(isKnownTimeZone, "must be a known IANA time zone"), windows: list(scheduleWindow) }).nullable(),
});

const protectionMode = z.enum(["Off", "Audit", "Enforce"]);
/** Session protections; a policy published without them (an older operator) has every protection Off. */
const compiledProtections = z.object({
  network: z.object({
    mode: protectionMode,
    granularity: z.enum(["Prefix", "ASN"]),
    ipv4PrefixLength: z.int().min(8).max(32),
    ipv6PrefixLength: z.int().min(16).max(128),
  }),
  device: z.object({
    mode: protectionMode,
    components: list(z.enum(["AcceptLanguage", "Browser", "ClientCertificate", "JA4", "OperatingSystem", "Platform"]), 6),
  }),
  travel: z.object({ mode: protectionMode, maxSpeedKmh: z.int().min(100).max(20_000), minDistanceKm: z.int().min(1).max(20_000) }),
  concurrent: z.object({ mode: protectionMode, maxSessions: z.int().min(0).max(1000), onExceed: z.enum(["RefuseNew", "EndOldest"]) }),
});

export const compiledPolicySchema: z.ZodType<CompiledPolicy> = z.object({
  v: z.literal(1),
  namespace: namespaceName,
  name: text(1, 253),
  uid: text(0, 128),
  generation: count,
  hash: z.string().regex(/^[0-9a-f]{64}$/u, "must be 64 lower-case hex digits"),
  selector: z.object({
    matchLabels: z.record(text(1, 1024), text(0, 64 * 1024)),
    matchExpressions: list(z.object({ key: text(1, 317), operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]), values: list(text(0, 64 * 1024)) })),
  }),
  rules: list(compiledRule, 256),
  session: z.object({ idleTimeoutSeconds: z.int().min(1), absoluteTimeoutSeconds: z.int().min(1), protections: compiledProtections.optional() }),
  failureMode: z.enum(["Strict", "BestEffort"]),
});

export const terminationSelectorSchema: z.ZodType<TerminationSelector> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("session"), sessionId: text(1, 256), sessionKey: text(1, 128).optional() }),
  z.object({ kind: z.literal("subject"), subject: text(1, 1024), issuer: text(1, 2048).optional() }),
  z.object({ kind: z.literal("email"), email: text(1, 1024) }),
  z.object({ kind: z.literal("group"), group: text(1, 1024) }),
  z.object({ kind: z.literal("all") }),
]);

export const revocationSchema: z.ZodType<Revocation> = z.object({
  id: text(1, 1024),
  namespace: namespaceName,
  selector: terminationSelectorSchema,
  reason: text(0, 4096),
  tokensIssuedBefore: epochMs,
  expiresAt: epochMs,
});

const epochId = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/u, "must be 16-64 base64url characters");
const entryHeader = { v: z.literal(2), epoch: epochId, namespace: namespaceName, revision: revisionNumber };

export const policyEntrySchema = z.object({ ...entryHeader, type: z.literal("policy"), policy: compiledPolicySchema });
export const revocationEntrySchema = z.object({
  ...entryHeader,
  type: z.literal("revocation"),
  revocation: revocationSchema,
  liftedAt: epochMs.optional(),
});
const entrySchema = z.discriminatedUnion("type", [policyEntrySchema, revocationEntrySchema]);

const changeSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("put"), entry: entrySchema }),
  z.object({ op: z.literal("delete"), field: text(3, 1100) }),
]);

export const eventBodySchema = z.object({
  v: z.literal(2),
  type: z.literal("event"),
  epoch: epochId,
  namespace: namespaceName,
  revision: revisionNumber,
  prev: revisionNumber,
  changes: list(changeSchema, 100_000),
});

export const headBodySchema = z.object({
  v: z.literal(2),
  type: z.literal("head"),
  epoch: epochId,
  namespace: namespaceName,
  revision: revisionNumber,
  digest: z.string().regex(/^[0-9a-f]{64}$/u),
  entries: count,
});

export const epochBodySchema = z.object({ v: z.literal(2), type: z.literal("epoch"), epoch: epochId, createdAt: epochMs, signedAt: epochMs });

export const bodySchema = z.discriminatedUnion("type", [epochBodySchema, headBodySchema, policyEntrySchema, revocationEntrySchema, eventBodySchema]);

export const envelopeSchema = z.object({
  v: z.literal(2),
  kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/u, "must be a key id"),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/u, "must be a base64url Ed25519 signature"),
  body: z.string().max(1024 * 1024),
});

const podName = text(1, 253);
export const heartbeatSchema = z.object({
  v: z.literal(2),
  pod: podName,
  namespace: namespaceName,
  labels: z.record(text(1, 1024), text(0, 64 * 1024)).refine((l) => Object.keys(l).length <= 256, "at most 256 labels"),
  epoch: z.union([z.literal(""), epochId]),
  appliedRevision: revisionNumber,
  integrity: text(0, 64),
  at: epochMs,
});

export const ackSchema = z.object({
  v: z.literal(2),
  terminationId: text(1, 1024),
  pod: podName,
  namespace: namespaceName,
  sessionsTerminated: count,
  connectionsClosed: count,
  at: epochMs,
});

// The schemas produce exactly the contract's types (checked at compile time).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** @public A compile-time check: each schema's inferred type is the hand-written message type. */
export const SCHEMAS_CONFORM: [
  Same<z.infer<typeof bodySchema>, Body>,
  Same<z.infer<typeof envelopeSchema>, Envelope>,
  Same<z.infer<typeof heartbeatSchema>, Heartbeat>,
  Same<z.infer<typeof ackSchema>, Ack>,
] = [true, true, true, true];
