import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openGeo, type Geo } from "../../../../sidecar/protect/geo.ts";
import { ConfigError } from "../../../../sidecar/errors.ts";

const fixtures = join(import.meta.dirname, "../../../fixtures/geoip");
const city = join(fixtures, "GeoIP2-City-Test.mmdb");
const asn = join(fixtures, "GeoLite2-ASN-Test.mmdb");
const log = pino({ level: "silent" });

describe("geolocation with the MaxMind test databases", () => {
  let geo: Geo | undefined;
  afterEach(() => geo?.close());

  it("locates IPv4, IPv4-mapped (canonicalised by the proxy to IPv4) and IPv6 addresses, with the accuracy radius", async () => {
    geo = await openGeo({ cityPath: city, asnPath: asn, log });
    expect(geo.place("214.0.0.7", 1)).toEqual({ country: "SG", city: "Singapore", latitude: 1.336, longitude: 103.7716, accuracyRadiusKm: 10, time: 1 });
    expect(geo.place("214.0.1.9", 2)).toMatchObject({ country: "AU", city: "Melbourne", accuracyRadiusKm: 20 });
    expect(geo.place("::214.0.0.7", 3)).toMatchObject({ city: "Singapore" });
    expect(geo.place("2001:218::1", 4)).toMatchObject({ country: "JP", accuracyRadiusKm: 100 });
    expect(geo.place("2a02:cf40::1", 5)).toMatchObject({ country: "NO" });
  });

  it("answers undefined, never throws, for unknown and malformed addresses", async () => {
    geo = await openGeo({ cityPath: city, asnPath: asn, log });
    expect(geo.place("192.0.2.1", 0)).toBeUndefined();
    expect(geo.place("not an ip", 0)).toBeUndefined();
    expect(geo.asn("::::")).toBeUndefined();
    expect(geo.location("192.0.2.1")).toBeUndefined();
  });

  it("gives the country, city and autonomous system a session shows", async () => {
    geo = await openGeo({ cityPath: city, asnPath: asn, log });
    expect(geo.asn("1.128.0.1")).toEqual({ asn: 1221, organization: "Telstra Pty Ltd" });
    expect(geo.location("214.0.1.9")).toMatchObject({ country: "AU", city: "Melbourne" });
    expect(geo.location("1.128.0.1")).toEqual({ asn: 1221, asOrganization: "Telstra Pty Ltd" });
  });

  it("refuses an unreadable database at start, naming the setting", async () => {
    await expect(openGeo({ cityPath: "/nonexistent/city.mmdb", asnPath: "", log })).rejects.toThrow(ConfigError);
    await expect(openGeo({ cityPath: "/nonexistent/city.mmdb", asnPath: "", log })).rejects.toThrow(/VIGIL_GEOIP_CITY_DATABASE/);
  });

  it("re-reads a changed file, and keeps the previous database when the new file is corrupt", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vigil-geo-"));
    try {
      const path = join(dir, "city.mmdb");
      await copyFile(asn, path); // starts as a database without locations
      const reloads: boolean[] = [];
      geo = await openGeo({ cityPath: path, asnPath: "", log, pollMs: 50, onReload: (_w, ok) => reloads.push(ok) });
      expect(geo.place("214.0.0.7", 0)).toBeUndefined();
      await copyFile(city, path);
      await vi.waitFor(
        () => {
          expect(reloads).toEqual([true]);
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(geo.place("214.0.0.7", 0)).toMatchObject({ city: "Singapore" });
      await writeFile(path, "not a MaxMind database, and longer than the old one so the size changes …………………………");
      await vi.waitFor(
        () => {
          expect(reloads).toEqual([true, false]);
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(geo.place("214.0.0.7", 0)).toMatchObject({ city: "Singapore" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
