/**
 * Pure parsers for raw Redis replies used by the bus (via `call`, so RESP2 and RESP3 "legacy"
 * shapes both work, and a rogue value never reaches a cast). Every parser tolerates garbage and
 * returns an empty/neutral value rather than throwing.
 */

export interface StreamEntry {
  id: string;
  /** Value of the `m` field, or null when the entry has no such string field. */
  message: string | null;
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/u;

export function isStreamId(value: unknown): value is string {
  return typeof value === "string" && STREAM_ID.test(value);
}

/** Compares two stream IDs (`ms-seq`) numerically; invalid IDs sort first. */
export function compareStreamIds(a: string, b: string): number {
  const pa = STREAM_ID.exec(a);
  const pb = STREAM_ID.exec(b);
  if (pa === null || pb === null) return pa === null ? (pb === null ? 0 : -1) : 1;
  const [ams, aseq] = [BigInt(pa[1] ?? "0"), BigInt(pa[2] ?? "0")];
  const [bms, bseq] = [BigInt(pb[1] ?? "0"), BigInt(pb[2] ?? "0")];
  if (ams !== bms) return ams < bms ? -1 : 1;
  return aseq === bseq ? 0 : aseq < bseq ? -1 : 1;
}

/** Flat `[k, v, k, v]` array (RESP2 / RESP3 legacy) or a plain object (RESP3 map) → string pairs. */
export function pairsOf(reply: unknown): [string, unknown][] {
  if (Array.isArray(reply)) {
    const pairs: [string, unknown][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const key: unknown = reply[i];
      if (typeof key === "string") pairs.push([key, reply[i + 1]]);
    }
    return pairs;
  }
  if (typeof reply === "object" && reply !== null && !(reply instanceof Error)) {
    return Object.entries(reply as Record<string, unknown>);
  }
  return [];
}

function entryOf(raw: unknown, field: string): StreamEntry | null {
  if (!Array.isArray(raw) || !isStreamId(raw[0])) return null;
  const fields = pairsOf(raw[1]);
  const found = fields.find(([k]) => k === field);
  return { id: raw[0], message: typeof found?.[1] === "string" ? found[1] : null };
}

/** Entries of an XRANGE/XREVRANGE reply (malformed entries without an ID are dropped). */
export function parseRange(reply: unknown, field: string): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((raw: unknown) => entryOf(raw, field)).filter((e) => e !== null);
}

/**
 * Entries of an XREAD reply for `key`: RESP2 `[[key, entries]]`, RESP3 legacy `[key, entries]`,
 * or a RESP3 map `{ key: entries }`; null (timeout) → [].
 */
export function parseXread(reply: unknown, key: string, field: string): StreamEntry[] {
  if (!Array.isArray(reply)) return parseRange(pairsOf(reply).find(([k]) => k === key)?.[1], field);
  const items = reply as unknown[];
  const nested = items.length > 0 && items.every((item) => Array.isArray(item));
  const flat: unknown[] = [];
  if (nested) for (const item of items as unknown[][]) flat.push(item[0], item[1]);
  return parseRange(pairsOf(nested ? flat : items).find(([k]) => k === key)?.[1], field);
}

/** An entry with all its fields (flat `[k, v, …]`, string values only; anything else is dropped). */
export interface RawStreamEntry {
  id: string;
  fields: string[];
}

/** Entries of an XREAD reply for `key` with all their fields, in any of the shapes parseXread accepts. */
export function parseXreadEntries(reply: unknown, key: string): RawStreamEntry[] {
  let entries: unknown;
  if (!Array.isArray(reply)) entries = pairsOf(reply).find(([k]) => k === key)?.[1];
  else {
    const items = reply as unknown[];
    const nested = items.length > 0 && items.every((item) => Array.isArray(item));
    const flat: unknown[] = [];
    if (nested) for (const item of items as unknown[][]) flat.push(item[0], item[1]);
    entries = pairsOf(nested ? flat : items).find(([k]) => k === key)?.[1];
  }
  if (!Array.isArray(entries)) return [];
  const out: RawStreamEntry[] = [];
  for (const raw of entries as unknown[]) {
    if (!Array.isArray(raw) || !isStreamId(raw[0])) continue;
    const fields: string[] = [];
    for (const [k, v] of pairsOf(raw[1])) if (typeof v === "string") fields.push(k, v);
    out.push({ id: raw[0], fields });
  }
  return out;
}

export interface StreamInfo {
  lastGeneratedId: string | null;
  maxDeletedEntryId: string | null;
  firstEntryId: string | null;
}

/** The fields of XINFO STREAM that gap detection needs. */
export function parseXinfoStream(reply: unknown): StreamInfo {
  const info = new Map(pairsOf(reply));
  const id = (value: unknown): string | null => (isStreamId(value) ? value : null);
  const first = info.get("first-entry");
  return {
    lastGeneratedId: id(info.get("last-generated-id")),
    maxDeletedEntryId: id(info.get("max-deleted-entry-id")),
    firstEntryId: Array.isArray(first) ? id(first[0]) : null,
  };
}

/** A non-negative safe integer from a Redis string/number reply, else null. */
export function parseCounter(reply: unknown): number | null {
  const text = typeof reply === "number" ? String(reply) : reply;
  if (typeof text !== "string" || !/^\d{1,16}$/u.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** `[error, value]` tuples of a MULTI/EXEC or pipeline reply; throws the first error or a null EXEC. */
export function execValues(results: [Error | null, unknown][] | null, expected: number): unknown[] {
  if (results?.length !== expected) throw new Error("transaction was aborted or returned an unexpected reply");
  return results.map(([error, value]) => {
    if (error !== null) throw error;
    return value;
  });
}
