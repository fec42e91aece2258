/**
 * zod schema of the audit event (events.ts): the one place that says what a valid event is. The operator checks
 * every event it reads from the stream with it (a rogue writer's entry is refused and counted, never applied);
 * unit tests hold the sidecar's events to it. Strings are bounded, times are epoch ms, counts non-negative
 * integers, codes must be the catalogue's code of the event type. Unknown fields are dropped.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { findingEvidenceSchema, sessionLocationSchema } from "../protections/schema.ts";
import { AUDIT_FLOW_KINDS, CLOSE_REASONS, END_REASONS } from "./catalogue.ts";
import type { AuditBatch, AuditEvent } from "./events.ts";
import { FINDING_EVENTS } from "./findings.ts";
import type { FindingCode } from "../protections/findings.ts";

export const MAX_BATCH_EVENTS = 256;

const text = (max: number): z.ZodString => z.string().min(1).max(max);
const epochMs = z.int().min(1).max(8_640_000_000_000_000);
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const sessionId = z.string().regex(/^s_[A-Za-z0-9_-]{22}$/u, "must be a session id");
const cid = z.string().regex(/^c_[A-Za-z0-9_-]{22}$/u, "must be a correlation id");
const ip = z
  .string()
  .max(64)
  .refine((v) => isIP(v) !== 0, "must be an IP address");
const outcome = z.enum(["success", "failure", "info"]);
const flowKind = z.enum(AUDIT_FLOW_KINDS);

const workload = z.object({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u, "must be a namespace name"),
  pod: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/u, "must be a pod name"),
  kind: z
    .string()
    .regex(/^[A-Z][A-Za-z0-9]{0,62}$/u, "must be a Kubernetes kind")
    .optional(),
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/u, "must be a workload name")
    .optional(),
});

const identity = z.object({
  issuer: text(512),
  subject: text(256),
  email: text(320).optional(),
  groups: z.array(text(256)).max(64),
});

const refusal = z.object({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/u),
  status: z.int().min(100).max(599),
  policy: text(253).optional(),
  rule: text(256).optional(),
});

const flow = z.object({
  id: text(64),
  kind: flowKind,
  peer: text(64),
  port: z.int().min(0).max(65535),
  openedAt: epochMs,
  bytesIn: count,
  bytesOut: count,
});

const base = { v: z.literal(1), time: epochMs, outcome, workload };
const scoped = { ...base, sessionId, cid };

/** What a finding event says about the finding (its code is pinned per event type below). */
const findingFacts = {
  mode: z.enum(["Audit", "Enforce"]),
  outcome: z.enum(["recorded", "refused"]),
  policy: text(253).optional(),
  evidence: findingEvidenceSchema,
};

type FindingEventSchema<C extends FindingCode> = z.ZodObject<
  typeof scoped & {
    event: z.ZodLiteral<(typeof FINDING_EVENTS)[C]["event"]>;
    code: z.ZodLiteral<(typeof FINDING_EVENTS)[C]["code"]>;
    finding: z.ZodObject<typeof findingFacts & { code: z.ZodLiteral<C> }>;
  }
>;

/** A finding's event: its type and code from the one mapping (findings.ts FINDING_EVENTS), `finding.code` pinned. */
function findingEvent<C extends FindingCode>(findingCode: C): FindingEventSchema<C> {
  const { event, code } = FINDING_EVENTS[findingCode];
  return z.object({ ...scoped, event: z.literal(event), code: z.literal(code), finding: z.object({ ...findingFacts, code: z.literal(findingCode) }) });
}

export const auditEventSchema = z.discriminatedUnion("event", [
  z.object({
    ...scoped,
    event: z.literal("session.start"),
    code: z.literal("VS001I"),
    identity,
    clientIP: ip,
    userAgent: z.string().max(512).optional(),
    startTime: epochMs,
  }),
  z.object({
    ...scoped,
    event: z.literal("session.activity"),
    code: z.literal("VS002I"),
    identity,
    clientIP: ip,
    requests: count,
    admittedBy: z.object({ policy: text(253), rule: text(256) }).optional(),
  }),
  z.object({ ...scoped, event: z.literal("session.refused"), code: z.literal("VS003W"), identity, clientIP: ip, flowKind, refusal, count: z.int().min(1) }),
  z.object({ ...scoped, event: z.literal("session.end"), code: z.literal("VS004I"), reason: z.enum(END_REASONS), detail: z.string().max(512).optional() }),
  z.object({ ...scoped, event: z.literal("session.located"), code: z.literal("VS006I"), location: sessionLocationSchema }),
  findingEvent("SESSION_NETWORK_CHANGED"),
  findingEvent("SESSION_DEVICE_CHANGED"),
  findingEvent("SESSION_IMPOSSIBLE_TRAVEL"),
  findingEvent("SESSION_NEW_COUNTRY"),
  findingEvent("SESSION_LIMIT_EXCEEDED"),
  z.object({ ...scoped, event: z.literal("flow.open"), code: z.literal("VF001I"), flow }),
  z.object({ ...scoped, event: z.literal("flow.progress"), code: z.literal("VF002I"), flow }),
  z.object({ ...scoped, event: z.literal("flow.close"), code: z.literal("VF003I"), flow, reason: z.enum(CLOSE_REASONS), durationMs: count }),
  z.object({
    ...base,
    event: z.literal("access.refused"),
    code: z.literal("VA001W"),
    clientIP: z.union([ip, z.literal("")]),
    flowKind,
    refusal,
    count: z.int().min(1),
  }),
  z.object({ ...base, event: z.literal("termination.applied"), code: z.literal("VT001I"), termination: text(512), sessions: count, connections: count }),
  z.object({ ...base, event: z.literal("audit.dropped"), code: z.literal("VS005W"), dropped: count }),
]);

export const auditBatchSchema = z.object({ v: z.literal(1), events: z.array(z.unknown()).min(1).max(MAX_BATCH_EVENTS) });

/** The schema's output is the contract's type (checked at compile time). */
export function asAuditEvent(parsed: z.output<typeof auditEventSchema>): AuditEvent {
  return parsed;
}

export type ParsedEvents = { ok: true; events: AuditEvent[]; invalid: number; firstProblem?: string } | { ok: false; problem: string };

/**
 * A decrypted batch (untrusted until checked): the valid events, and how many were not (each counted, the rest of
 * the batch still applies). A batch that is not one at all is refused whole.
 */
export function parseAuditBatch(value: unknown): ParsedEvents {
  const batch = auditBatchSchema.safeParse(value);
  if (!batch.success) return { ok: false, problem: batch.error.issues[0]?.message ?? "not an audit batch" };
  const events: AuditEvent[] = [];
  let invalid = 0;
  let firstProblem: string | undefined;
  for (const raw of batch.data.events) {
    const parsed = auditEventSchema.safeParse(raw);
    if (parsed.success) events.push(asAuditEvent(parsed.data));
    else {
      invalid += 1;
      const issue = parsed.error.issues[0];
      firstProblem ??= issue === undefined ? "invalid event" : `${issue.path.join(".")}: ${issue.message}`;
    }
  }
  return { ok: true, events, invalid, ...(firstProblem === undefined ? {} : { firstProblem }) };
}

export type { AuditBatch };
