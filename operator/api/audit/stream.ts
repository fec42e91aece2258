/**
 * The audit stream's wire contract (pure): `P audit`, a capped Redis stream written by sidecars and read by every
 * operator replica. One entry per flush of one sidecar, with four fields:
 *
 *   o  origin: `<namespace>/<pod>` of the reporting sidecar
 *   i  incarnation: 16 hex characters drawn from the CSPRNG when the sidecar process starts
 *   s  sequence: 1, 2, 3 … per incarnation (decimal)
 *   d  the batch (`{v: 1, events: [...]}`), sealed with the key ring's `audit` purpose (lib/sealing.ts)
 *
 * The seal's AAD subject is `o|i|s` (`auditSubject`), so an entry moved to another origin, incarnation or
 * position, or replayed with another sequence, does not open; a reader also refuses a sequence it has already
 * passed for that (origin, incarnation). Names, emails and IP addresses are personal data: only sealed.
 */

export const AUDIT_FIELDS = { origin: "o", incarnation: "i", sequence: "s", data: "d" } as const;

const ORIGIN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/u;
const INCARNATION = /^[0-9a-f]{16}$/u;
const SEQUENCE = /^[1-9][0-9]{0,15}$/u;

/** The sealed purpose of audit entries (`ring.for(AUDIT_PURPOSE)`). */
export const AUDIT_PURPOSE = "audit";

export function auditSubject(origin: string, incarnation: string, sequence: number): string {
  return `${origin}|${incarnation}|${sequence}`;
}

export interface AuditEntryHeader {
  origin: string;
  namespace: string;
  pod: string;
  incarnation: string;
  sequence: number;
  sealed: string;
}

/** The header of a raw entry (field/value list as XREAD returns it), or a reason it is not one. */
export function parseAuditEntry(fields: readonly string[]): { ok: true; entry: AuditEntryHeader } | { ok: false; problem: string } {
  if (fields.length !== 8) return { ok: false, problem: "an audit entry has exactly the fields o, i, s, d" };
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? "", fields[i + 1] ?? "");
  const origin = map.get(AUDIT_FIELDS.origin) ?? "";
  const incarnation = map.get(AUDIT_FIELDS.incarnation) ?? "";
  const sequence = map.get(AUDIT_FIELDS.sequence) ?? "";
  const sealed = map.get(AUDIT_FIELDS.data);
  if (!ORIGIN.test(origin)) return { ok: false, problem: "o is not <namespace>/<pod>" };
  if (!INCARNATION.test(incarnation)) return { ok: false, problem: "i is not 16 hex characters" };
  if (!SEQUENCE.test(sequence)) return { ok: false, problem: "s is not a positive sequence number" };
  if (sealed === undefined || sealed === "") return { ok: false, problem: "d is missing" };
  const [namespace = "", pod = ""] = origin.split("/");
  return { ok: true, entry: { origin, namespace, pod, incarnation, sequence: Number(sequence), sealed } };
}
