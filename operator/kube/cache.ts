/**
 * Pure core of the informer: the local cache (key → object) and what changes when a watch event arrives or a
 * fresh LIST replaces the cache. No I/O; unit-tested with plain data.
 *
 * Change detection compares `metadata.resourceVersion` only (opaque strings: equal or not, never ordered).
 */
import { httpStatusOf } from "../errors.ts";
import { objectKey, type HasMetadata } from "./keys.ts";

export type KubeObject = HasMetadata & Record<string, unknown>;

export type ChangeType = "add" | "update" | "delete";

export interface CacheChange {
  key: string;
  type: ChangeType;
}

export type ObjectCache<T extends HasMetadata = KubeObject> = Map<string, T>;

export function resourceVersionOf(obj: HasMetadata): string | undefined {
  return obj.metadata?.resourceVersion;
}

/**
 * What the cache keeps of an object: everything but `metadata.managedFields` (server-side-apply bookkeeping that
 * no reconciler reads and that can be as large as the object itself). Returns a shallow copy when it strips.
 */
export function forCache<T extends HasMetadata>(obj: T): T {
  const meta = obj.metadata as (HasMetadata["metadata"] & { managedFields?: unknown }) | undefined;
  if (meta?.managedFields === undefined) return obj;
  const metadata = { ...meta };
  delete metadata.managedFields;
  return { ...obj, metadata };
}

/** Index a LIST result by key (objects without a name are skipped). */
export function indexByKey<T extends HasMetadata>(items: readonly T[]): ObjectCache<T> {
  const out: ObjectCache<T> = new Map();
  for (const item of items) {
    const key = objectKey(item);
    if (key !== undefined) out.set(key, item);
  }
  return out;
}

/**
 * What a relist changed: keys only in `fresh` are added, keys in both with a different resourceVersion are
 * updated, keys only in `old` were DELETED while we were not watching. Sorted by key for determinism.
 */
export function diffCaches<T extends HasMetadata>(old: ReadonlyMap<string, T>, fresh: ReadonlyMap<string, T>): CacheChange[] {
  const changes: CacheChange[] = [];
  for (const [key, obj] of fresh) {
    const before = old.get(key);
    if (before === undefined) changes.push({ key, type: "add" });
    else if (resourceVersionOf(before) !== resourceVersionOf(obj)) changes.push({ key, type: "update" });
  }
  for (const key of old.keys()) {
    if (!fresh.has(key)) changes.push({ key, type: "delete" });
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Apply one ADDED/MODIFIED/DELETED event to `cache` (mutated) and say what changed for the handler.
 * ADDED of a key already cached counts as an update (possible after a restart); DELETED of an unknown key is
 * still reported (the handler reconciles from the current state anyway).
 */
export function applyWatchEvent<T extends HasMetadata>(cache: ObjectCache<T>, type: string, obj: T): CacheChange | undefined {
  const key = objectKey(obj);
  if (key === undefined) return undefined;
  switch (type) {
    case "ADDED":
    case "MODIFIED": {
      const existed = cache.has(key);
      cache.set(key, obj);
      return { key, type: existed ? "update" : "add" };
    }
    case "DELETED":
      cache.delete(key);
      return { key, type: "delete" };
    default:
      return undefined;
  }
}

/** How a watch ended, as far as the restart policy is concerned. */
export type WatchEnd =
  /** 410 Gone / Expired: our resourceVersion is no longer served; relist from scratch. */
  | { kind: "gone" }
  /** The watch ended; restart from the last resourceVersion. `healthy` resets the backoff. */
  | { kind: "ended"; healthy: boolean; clean: boolean; reason: string };

export interface WatchEndFacts {
  /** The error passed to the watch's done callback (null/undefined = closed cleanly). */
  error: unknown;
  /** `code` of an ERROR event's Status object, if one arrived. */
  errorEventCode: number | undefined;
  /** Any ADDED/MODIFIED/DELETED/BOOKMARK seen on this watch. */
  sawEvents: boolean;
  durationMs: number;
  /** A watch that lived this long is healthy even without events. */
  minHealthyMs: number;
}

export function classifyWatchEnd(facts: WatchEndFacts): WatchEnd {
  const status = httpStatusOf(facts.error);
  if (facts.errorEventCode === 410 || status === 410) return { kind: "gone" };
  const healthy = facts.sawEvents || facts.durationMs >= facts.minHealthyMs;
  if (facts.errorEventCode !== undefined) {
    return { kind: "ended", healthy: false, clean: false, reason: `ERROR event with code ${facts.errorEventCode}` };
  }
  if (facts.error === null || facts.error === undefined) return { kind: "ended", healthy, clean: true, reason: "closed" };
  if (isTimeout(facts.error)) return { kind: "ended", healthy, clean: true, reason: "idle timeout" };
  const reason =
    status !== undefined
      ? `HTTP ${status}`
      : facts.error instanceof Error
        ? facts.error.message
        : typeof facts.error === "string"
          ? facts.error
          : "watch error";
  return { kind: "ended", healthy, clean: false, reason };
}

function isTimeout(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === "TimeoutError";
}
