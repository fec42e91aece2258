/**
 * The session record (pure): one login of one identity, as stored (encrypted) in Redis.
 *
 * Contract: a record is created at the first sight of a token's (iss, sid|jti); `touch` records activity and
 * the latest client IP; `standing(record, now)` says whether it may still be used — absolute expiry and idle
 * expiry are computed from the timestamps inside the record, never from Redis TTLs alone.
 */
import { z } from "zod";
import type { Principal } from "../auth/types.ts";

export type EndReason = "terminated" | "idle" | "absolute" | "protection";

/** The device of the session's first request, beyond its User-Agent (raw values, bounded; see protect/device.ts). */
export interface BoundDevice {
  platform?: string | undefined;
  acceptLanguage?: string | undefined;
  clientCert?: string | undefined;
  ja4?: string | undefined;
}

export interface SessionRecord {
  v: 1;
  id: string;
  /** Session key (hash of issuer + session claim; not personal data): ties the record to its login. */
  key?: string | undefined;
  issuer: string;
  subject: string;
  email?: string | undefined;
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
  endedAt?: number | undefined;
  endReason?: EndReason | undefined;
  /** For endReason "protection": the finding's stable code (what a refused client is told). */
  endCode?: string | undefined;
  device?: BoundDevice | undefined;
}

export interface Timeouts {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}

export interface Sighting {
  clientIp: string;
  userAgent: string;
  /** The rest of the device (recorded at the first sight only). */
  device?: BoundDevice | undefined;
  workload: string;
  now: number;
}

const MAX_WORKLOADS = 32;
const MAX_USER_AGENT = 256;

export function newRecord(id: string, key: string, principal: Principal, timeouts: Timeouts, seen: Sighting): SessionRecord {
  return {
    v: 1,
    id,
    key,
    issuer: principal.issuer,
    subject: principal.subject,
    ...(principal.email === undefined ? {} : { email: principal.email }),
    groups: [...principal.groups],
    firstIp: seen.clientIp,
    lastIp: seen.clientIp,
    userAgent: seen.userAgent.slice(0, MAX_USER_AGENT),
    workloads: [seen.workload],
    ...(seen.device === undefined ? {} : { device: boundDevice(seen.device) }),
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

export function end(record: SessionRecord, reason: EndReason, now: number, code?: string): SessionRecord {
  if (record.endedAt !== undefined) return record;
  return code === undefined ? { ...record, endedAt: now, endReason: reason } : { ...record, endedAt: now, endReason: reason, endCode: code };
}

const MAX_DEVICE_FIELD = 128;

function boundDevice(d: BoundDevice): BoundDevice {
  const out: BoundDevice = {};
  for (const k of ["platform", "acceptLanguage", "clientCert", "ja4"] as const) {
    const v = d[k];
    if (v !== undefined && v !== "") out[k] = v.slice(0, MAX_DEVICE_FIELD);
  }
  return out;
}

export type Standing = { ok: true } | { ok: false; reason: EndReason };

export function standing(record: SessionRecord, now: number): Standing {
  if (record.endReason !== undefined) return { ok: false, reason: record.endReason };
  if (now >= record.absoluteExpiresAt) return { ok: false, reason: "absolute" };
  if (now - record.lastActivityAt >= record.idleTimeoutMs) return { ok: false, reason: "idle" };
  return { ok: true };
}

/** Strictest timeouts among the policies that select this workload (or the defaults when none does). */
export function strictestTimeouts(
  policies: readonly { session: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number } }[],
  fallback: Timeouts,
): Timeouts {
  if (policies.length === 0) return fallback;
  return {
    idleTimeoutMs: Math.min(...policies.map((p) => p.session.idleTimeoutSeconds * 1000)),
    absoluteTimeoutMs: Math.min(...policies.map((p) => p.session.absoluteTimeoutSeconds * 1000)),
  };
}

const timestamp = z.number().refine(Number.isFinite, "must be a finite number");
const recordSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  key: z.string().max(128).optional(),
  issuer: z.string(),
  subject: z.string(),
  email: z.string().optional(),
  groups: z.array(z.string()),
  firstIp: z.string(),
  lastIp: z.string(),
  userAgent: z.string(),
  workloads: z.array(z.string()),
  startedAt: timestamp,
  lastActivityAt: timestamp,
  idleTimeoutMs: timestamp,
  absoluteExpiresAt: timestamp,
  endedAt: timestamp.optional(),
  endReason: z.enum(["terminated", "idle", "absolute", "protection"]).optional(),
  endCode: z
    .string()
    .regex(/^[A-Z_]{1,64}$/u)
    .optional(),
  device: z
    .object({
      platform: z.string().max(MAX_DEVICE_FIELD).optional(),
      acceptLanguage: z.string().max(MAX_DEVICE_FIELD).optional(),
      clientCert: z.string().max(MAX_DEVICE_FIELD).optional(),
      ja4: z.string().max(MAX_DEVICE_FIELD).optional(),
    })
    .optional(),
});

/** A decrypted record (it came from Redis: untrusted until checked), or undefined when it is not one. */
export function parseSessionRecord(x: unknown): SessionRecord | undefined {
  const parsed = recordSchema.safeParse(x);
  return parsed.success ? parsed.data : undefined;
}
