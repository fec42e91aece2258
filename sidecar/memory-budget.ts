/**
 * How many logins a sidecar keeps in memory: its session cache (SessionStore) and its verified-token cache
 * (TokenVerifier) hold one entry per login each, and both are sized from the V8 heap limit — which the chart sets
 * from the container's memory limit (`--max-old-space-size`, charts/vigil/values.yaml) — never from a fixed count.
 *
 * A cached login costs about `BYTES_PER_CACHED_LOGIN` of heap (session record, verified principal with its claims,
 * the token string as the cache key, the caches' own bookkeeping; measured with 10,000 new-token requests, heap
 * after GC, docs/decisions/perf-0002). The caches get `CACHE_SHARE` of the heap limit, at most `MAX_CACHED_LOGINS`
 * entries each (a process started without a heap limit, as the tests do, keeps the cap). Both are caches: an
 * evicted session is read back from Redis (one GET), an evicted token verified again.
 */
import { getHeapStatistics } from "node:v8";

/** Heap per cached login (session + verified token), measured: 2,118 B; rounded up. */
export const BYTES_PER_CACHED_LOGIN = 2_200;
/** Share of the V8 heap limit the two caches may fill together. */
export const CACHE_SHARE = 1 / 8;
export const MIN_CACHED_LOGINS = 256;
export const MAX_CACHED_LOGINS = 50_000;

/** Entries of each of the session and token caches for a heap limit (bytes; default: this process's). */
export function cachedLogins(heapLimitBytes: number = getHeapStatistics().heap_size_limit): number {
  const fit = Math.floor((heapLimitBytes * CACHE_SHARE) / BYTES_PER_CACHED_LOGIN);
  return Math.min(MAX_CACHED_LOGINS, Math.max(MIN_CACHED_LOGINS, fit));
}
