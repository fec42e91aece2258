/**
 * The digest a namespace head signs, over every entry of the namespace: a two-level hash tree so the operator
 * updates it in O(entries / 256) per change while a reader recomputes it from scratch with the same definition.
 *
 *   entryHash   = SHA-256(the entry's signed text), hex
 *   bucket(f)   = first byte of SHA-256(field f)
 *   bucketHash  = SHA-256 over the bucket's entries sorted by field, each `<field>\n<entryHash>\n`
 *   digest      = SHA-256 over `<b>:<bucketHash or "">\n` for b = 0..255
 *
 * Equal digests mean a snapshot holds exactly the entries the operator wrote at that head's revision: none
 * removed, added, replayed or altered.
 */
import { createHash } from "node:crypto";

const BUCKETS = 256;

/** SHA-256 (hex) of one entry's signed text. */
export function entryHash(signedText: string): string {
  return createHash("sha256").update(signedText, "utf8").digest("hex");
}

function bucketOf(field: string): number {
  return createHash("sha256").update(field, "utf8").digest()[0] ?? 0;
}

function bucketHash(bucket: ReadonlyMap<string, string>): string {
  if (bucket.size === 0) return "";
  const fields = [...bucket.keys()].sort();
  const hash = createHash("sha256");
  for (const field of fields) hash.update(`${field}\n${bucket.get(field) ?? ""}\n`, "utf8");
  return hash.digest("hex");
}

export interface DigestChange {
  field: string;
  /** entryHash of the new entry, or null to remove the field. */
  hash: string | null;
}

/** The entries of one namespace (field → entryHash) and their digest, updated incrementally. */
export class NamespaceDigest {
  readonly #buckets: Map<string, string>[] = Array.from({ length: BUCKETS }, () => new Map<string, string>());
  readonly #bucketHashes: string[] = new Array<string>(BUCKETS).fill("");
  #size = 0;
  #digest: string | undefined;

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [field, hash] of entries) this.#buckets[bucketOf(field)]?.set(field, hash);
    this.#size = this.#buckets.reduce((n, b) => n + b.size, 0);
    this.#buckets.forEach((b, i) => (this.#bucketHashes[i] = bucketHash(b)));
  }

  get size(): number {
    return this.#size;
  }

  get digest(): string {
    this.#digest ??= topHash(this.#bucketHashes);
    return this.#digest;
  }

  hashOf(field: string): string | undefined {
    return this.#buckets[bucketOf(field)]?.get(field);
  }

  /** Digest and size after `changes`, without applying them; `commit()` applies them. */
  preview(changes: readonly DigestChange[]): { digest: string; size: number; commit(): void } {
    const touched = new Map<number, Map<string, string>>();
    let size = this.#size;
    for (const change of changes) {
      const index = bucketOf(change.field);
      let bucket = touched.get(index);
      if (bucket === undefined) {
        bucket = new Map(this.#buckets[index]);
        touched.set(index, bucket);
      }
      const had = bucket.has(change.field);
      if (change.hash === null) bucket.delete(change.field);
      else bucket.set(change.field, change.hash);
      size += (bucket.has(change.field) ? 1 : 0) - (had ? 1 : 0);
    }
    const hashes = [...this.#bucketHashes];
    for (const [index, bucket] of touched) hashes[index] = bucketHash(bucket);
    const digest = topHash(hashes);
    return {
      digest,
      size,
      commit: () => {
        for (const [index, bucket] of touched) this.#buckets[index] = bucket;
        for (const [index] of touched) this.#bucketHashes[index] = hashes[index] ?? "";
        this.#size = size;
        this.#digest = digest;
      },
    };
  }

  entries(): [string, string][] {
    return this.#buckets.flatMap((b) => [...b]);
  }
}

function topHash(bucketHashes: readonly string[]): string {
  const hash = createHash("sha256");
  bucketHashes.forEach((h, i) => hash.update(`${i}:${h}\n`, "utf8"));
  return hash.digest("hex");
}
