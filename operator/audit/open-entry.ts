/**
 * Opening one entry of the audit stream (pure apart from the AES-GCM of lib/sealing.ts): header
 * (operator/api/audit/stream.ts), replay check, seal (AAD `origin|incarnation|sequence`, purpose `audit`), batch
 * and event validation (operator/api/audit/schema.ts). An entry that fails is refused whole with a stable code:
 *
 *   AUDIT_ENTRY_MALFORMED      not o/i/s/d, or a bad origin, incarnation or sequence
 *   AUDIT_ENTRY_REPLAYED       a sequence at or below one already read from that origin and incarnation
 *   AUDIT_ENTRY_UNDECRYPTABLE  does not open with the key ring (tampered, moved, another key, not sealed at all)
 *   AUDIT_ENTRY_INVALID        opens, but is not an audit batch
 *   AUDIT_ENTRY_FOREIGN        an event of the batch names another workload than the entry's origin
 *
 * Events of a valid batch that fail the schema are dropped one by one (`invalid`), the others are kept.
 */
import type { AuditEntryRefusal } from "../api/audit/catalogue.ts";
import type { AuditEvent } from "../api/audit/events.ts";
import { parseAuditBatch } from "../api/audit/schema.ts";
import { auditSubject, parseAuditEntry } from "../api/audit/stream.ts";
import type { Sealer } from "../../lib/sealing.ts";

export type Opened =
  { ok: true; origin: string; events: AuditEvent[]; invalid: number; firstProblem?: string } | { ok: false; code: AuditEntryRefusal; problem: string };

/** Last sequence read per `origin|incarnation` (bounded: the oldest incarnations are forgotten first). */
export class SequenceMemory {
  readonly #last = new Map<string, number>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  /** True when `sequence` is new for that stream of entries (and records it). */
  advance(key: string, sequence: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && sequence <= last) return false;
    if (last === undefined && this.#last.size >= this.#max) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    this.#last.set(key, sequence);
    return true;
  }
}

export function openAuditEntry(sealer: Sealer, fields: readonly string[], sequences: SequenceMemory): Opened {
  const header = parseAuditEntry(fields);
  if (!header.ok) return { ok: false, code: "AUDIT_ENTRY_MALFORMED", problem: header.problem };
  const { origin, incarnation, sequence, sealed, namespace, pod } = header.entry;
  let plain: unknown;
  try {
    plain = sealer.open(auditSubject(origin, incarnation, sequence), sealed);
  } catch (err) {
    return { ok: false, code: "AUDIT_ENTRY_UNDECRYPTABLE", problem: err instanceof Error ? err.message : "does not open" };
  }
  // After opening: only an authentic entry may advance the sequence (a forged one must not block the real one).
  if (!sequences.advance(`${origin}|${incarnation}`, sequence))
    return { ok: false, code: "AUDIT_ENTRY_REPLAYED", problem: `sequence ${sequence} was already read` };
  const batch = parseAuditBatch(plain);
  if (!batch.ok) return { ok: false, code: "AUDIT_ENTRY_INVALID", problem: batch.problem };
  if (batch.events.some((e) => e.workload.namespace !== namespace || e.workload.pod !== pod)) {
    return { ok: false, code: "AUDIT_ENTRY_FOREIGN", problem: "an event names another workload than the entry's origin" };
  }
  return { ok: true, origin, events: batch.events, invalid: batch.invalid, ...(batch.firstProblem === undefined ? {} : { firstProblem: batch.firstProblem }) };
}
