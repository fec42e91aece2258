import { describe, expect, it } from "vitest";
import { BYTES_PER_CACHED_LOGIN, CACHE_SHARE, MAX_CACHED_LOGINS, MIN_CACHED_LOGINS, cachedLogins } from "../../../sidecar/memory-budget.ts";

const MiB = 1024 * 1024;

describe("cached logins sized from the heap limit", () => {
  it("gives the caches their share of the heap at the measured cost per login", () => {
    const n = cachedLogins(70 * MiB);
    expect(n).toBe(Math.floor((70 * MiB * CACHE_SHARE) / BYTES_PER_CACHED_LOGIN));
    expect(n * BYTES_PER_CACHED_LOGIN).toBeLessThanOrEqual(70 * MiB * CACHE_SHARE);
  });

  it("keeps a floor for tiny heaps and a cap for processes without a limit", () => {
    expect(cachedLogins(1 * MiB)).toBe(MIN_CACHED_LOGINS);
    expect(cachedLogins(4096 * MiB)).toBe(MAX_CACHED_LOGINS);
  });

  it("reads this process's heap limit by default", () => {
    expect(cachedLogins()).toBeGreaterThanOrEqual(MIN_CACHED_LOGINS);
  });
});
