/**
 * The session record (pure): one login of one identity, as stored (encrypted) in Redis.
 *
 * Contract: a record is created at the first sight of a token's (iss, sid|jti); `touch` records activity and
 * the latest client IP; `standing(record, now)` says whether it may still be used — absolute expiry and idle
 * expiry are computed from the timestamps inside the record, never from Redis TTLs alone.
 */
import type { Principal } from "../auth/types.ts";

export type EndReason = "terminated" | "idle" | "absolute";

export interface SessionRecord {
  v: 1;
  id: string;
  issuer: string;
  subject: string;
  email?: string;
  groups: string[];
  firstIp: string;
  lastIp: string;
  userAgent: string;
  /** `<namespace>/<pod>` of every workload the session touched (bounded). */
  workloads: string[];
  /** Epoch ms. */
  startedAt: number;
  lastActivityAt: number;
  idleTimeoutMs: number;
  absoluteExpiresAt: number;
  endedAt?: number;
  endReason?: EndReason;
}

export interface Timeouts {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}

export interface Sighting {
  clientIp: string;
  userAgent: string;
  workload: string;
  now: number;
}

const MAX_WORKLOADS = 32;
const MAX_USER_AGENT = 256;

export function newRecord(id: string, principal: Principal, timeouts: Timeouts, seen: Sighting): SessionRecord {
  return {
    v: 1,
    id,
    issuer: principal.issuer,
    subject: principal.subject,
    ...(principal.email === undefined ? {} : { email: principal.email }),
    groups: [...principal.groups],
    firstIp: seen.clientIp,
    lastIp: seen.clientIp,
    userAgent: seen.userAgent.slice(0, MAX_USER_AGENT),
    workloads: [seen.workload],
    startedAt: seen.now,
    lastActivityAt: seen.now,
    idleTimeoutMs: timeouts.idleTimeoutMs,
    absoluteExpiresAt: seen.now + timeouts.absoluteTimeoutMs,
  };
}

/** Activity on a live session: returns a new record (or the same one when nothing changed). */
export function touch(record: SessionRecord, seen: Sighting): SessionRecord {
  const knownWorkload = record.workloads.includes(seen.workload) || record.workloads.length >= MAX_WORKLOADS;
  if (record.lastIp === seen.clientIp && knownWorkload && seen.now <= record.lastActivityAt) return record;
  return {
    ...record,
    lastIp: seen.clientIp,
    lastActivityAt: Math.max(record.lastActivityAt, seen.now),
    workloads: knownWorkload ? record.workloads : [...record.workloads, seen.workload],
  };
}

export function end(record: SessionRecord, reason: EndReason, now: number): SessionRecord {
  return record.endedAt === undefined ? { ...record, endedAt: now, endReason: reason } : record;
}

export type Standing = { ok: true } | { ok: false; reason: EndReason };

export function standing(record: SessionRecord, now: number): Standing {
  if (record.endReason !== undefined) return { ok: false, reason: record.endReason };
  if (now >= record.absoluteExpiresAt) return { ok: false, reason: "absolute" };
  if (now - record.lastActivityAt >= record.idleTimeoutMs) return { ok: false, reason: "idle" };
  return { ok: true };
}

/** Strictest timeouts among the policies that select this workload (or the defaults when none does). */
export function strictestTimeouts(policies: readonly { session: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number } }[], fallback: Timeouts): Timeouts {
  if (policies.length === 0) return fallback;
  return {
    idleTimeoutMs: Math.min(...policies.map((p) => p.session.idleTimeoutSeconds * 1000)),
    absoluteTimeoutMs: Math.min(...policies.map((p) => p.session.absoluteTimeoutSeconds * 1000)),
  };
}

const STRING_FIELDS = ["id", "issuer", "subject", "firstIp", "lastIp", "userAgent"] as const;
const NUMBER_FIELDS = ["startedAt", "lastActivityAt", "idleTimeoutMs", "absoluteExpiresAt"] as const;
const isStringArray = (x: unknown): boolean => Array.isArray(x) && x.every((s) => typeof s === "string");

/** Validates a decrypted record's shape (it came from Redis: untrusted until checked). */
export function isSessionRecord(x: unknown): x is SessionRecord {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    r.v === 1 &&
    STRING_FIELDS.every((k) => typeof r[k] === "string") &&
    NUMBER_FIELDS.every((k) => Number.isFinite(r[k])) &&
    isStringArray(r.groups) &&
    isStringArray(r.workloads) &&
    (r.email === undefined || typeof r.email === "string")
  );
}
