/**
 * zod schemas of the protection records that cross a trust boundary (a sidecar's audit records, read by the
 * operator): a finding and a session location. Bounded everywhere; unknown fields dropped.
 */
import { z } from "zod";
import type { FindingEvidence, SessionFinding, SessionLocation } from "./findings.ts";

const text = (max: number): z.ZodString => z.string().max(max);
const place = z.object({
  country: text(8).optional(),
  city: text(128).optional(),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  accuracyRadiusKm: z.number().min(0).max(20_000),
  time: z.number().min(0),
});
const component = z.enum(["Browser", "OperatingSystem", "Platform", "AcceptLanguage", "ClientCertificate", "JA4"]);
const evidenceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("network"), granularity: z.enum(["Prefix", "ASN"]), bound: text(64), observed: text(64) }),
  z.object({ kind: z.literal("device"), changed: z.array(z.object({ component, bound: text(128), observed: text(128) })).max(6) }),
  z.object({
    kind: z.literal("travel"),
    from: place,
    to: place,
    distanceKm: z.number().min(0),
    effectiveDistanceKm: z.number().min(0),
    elapsedSeconds: z.number(),
    speedKmh: z.number().min(0),
    maxSpeedKmh: z.number().min(0),
  }),
  z.object({ kind: z.literal("newCountry"), country: text(8), knownCountries: z.array(text(8)).max(64) }),
  z.object({
    kind: z.literal("limit"),
    limit: z.int().min(0),
    live: z.int().min(0),
    onExceed: z.enum(["RefuseNew", "EndOldest"]),
    ended: z.array(text(32)).max(1000),
  }),
]);

/** A finding's evidence (also inside the audit stream's finding events). */
export const findingEvidenceSchema = evidenceSchema as z.ZodType<FindingEvidence>;

export const sessionFindingSchema: z.ZodType<SessionFinding> = z.object({
  v: z.literal(1),
  code: z.enum(["SESSION_NETWORK_CHANGED", "SESSION_DEVICE_CHANGED", "SESSION_IMPOSSIBLE_TRAVEL", "SESSION_NEW_COUNTRY", "SESSION_LIMIT_EXCEEDED"]),
  sessionId: z.string().regex(/^s_[A-Za-z0-9_-]{22}$/u),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u),
  pod: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/u),
  time: z.number().min(1),
  mode: z.enum(["Audit", "Enforce"]),
  outcome: z.enum(["recorded", "refused"]),
  policy: text(253).optional(),
  evidence: evidenceSchema,
}) as z.ZodType<SessionFinding>;

export const sessionLocationSchema: z.ZodType<SessionLocation> = z.object({
  country: text(8).optional(),
  city: text(128).optional(),
  asn: z.int().min(0).max(4_294_967_295).optional(),
  asOrganization: text(256).optional(),
}) as z.ZodType<SessionLocation>;
