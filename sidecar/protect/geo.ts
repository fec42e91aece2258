/**
 * Geolocation from operator-supplied MaxMind-format databases (GeoLite2/GeoIP2 City, DB-IP Lite City; GeoLite2 ASN),
 * read with `maxmind` (mmdb-lib). The product ships no database.
 *
 * - `openGeo` loads the files named in configuration (none: lookups answer undefined); a missing or unreadable file
 *   stops the sidecar at start with the key named.
 * - Reload: each file is polled (fs.watchFile, every `pollMs`); a changed file is read and parsed into a NEW reader,
 *   swapped in only when it parsed — a truncated or corrupt file keeps the previous database and is logged. (The
 *   library's own watcher reloads into the live reader and throws from a timer on a bad file, which would crash the
 *   sidecar: not used.)
 * - Lookups never throw: a bad address or a record without coordinates is undefined. Results are cached per address
 *   by the reader (bounded LRU). A database without accuracy radii (DB-IP Lite) counts 100 km for each place.
 * - `maxmind` is loaded only when a database is configured (most sidecars have none: docs/decisions/perf-0004).
 */
import { readFile, stat } from "node:fs/promises";
import { unwatchFile, watchFile } from "node:fs";
import type { AsnResponse, CityResponse, Reader } from "maxmind";
import type { Logger } from "pino";
import type { Place, SessionLocation } from "../../operator/api/protections/findings.ts";
import { ConfigError } from "../errors.ts";

export interface Geo {
  readonly hasCity: boolean;
  readonly hasAsn: boolean;
  /** Coordinates (with the accuracy radius) of an address at `time`, or undefined. */
  place(ip: string, time: number): Place | undefined;
  asn(ip: string): { asn: number; organization?: string } | undefined;
  /** Country, city and ASN, as the sessions API shows them. */
  location(ip: string): SessionLocation | undefined;
  close(): void;
}

export const NO_GEO: Geo = {
  hasCity: false,
  hasAsn: false,
  place: () => undefined,
  asn: () => undefined,
  location: () => undefined,
  close: () => undefined,
};

export interface GeoOptions {
  cityPath: string;
  asnPath: string;
  log: Logger;
  pollMs?: number;
  onReload?: (which: "city" | "asn", ok: boolean) => void;
}

const CACHE = { max: 10_000 };
const DEFAULT_RADIUS_KM = 100;

class Watched<T extends CityResponse | AsnResponse> {
  reader: Reader<T>;
  readonly #path: string;

  constructor(path: string, reader: Reader<T>, o: GeoOptions, which: "city" | "asn") {
    this.#path = path;
    this.reader = reader;
    watchFile(path, { persistent: false, interval: o.pollMs ?? 5000 }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
      loadReader<T>(path).then(
        (next) => {
          this.reader = next;
          o.log.info({ event: "geoip.reloaded", database: which }, "geolocation database reloaded");
          o.onReload?.(which, true);
        },
        (err: unknown) => {
          o.log.warn(
            { event: "geoip.reload_failed", database: which, err: err instanceof Error ? err.message : String(err) },
            "geolocation database changed but could not be read; keeping the previous one",
          );
          o.onReload?.(which, false);
        },
      );
    });
  }

  close(): void {
    unwatchFile(this.#path);
  }
}

async function loadReader<T extends CityResponse | AsnResponse>(path: string): Promise<Reader<T>> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`${path} is not a file`);
  const { Reader: MaxmindReader } = await import("maxmind");
  return new MaxmindReader<T>(await readFile(path), { cache: new LruCache(CACHE.max) });
}

/** The tiny cache interface mmdb-lib takes (get/set). */
class LruCache {
  readonly #max: number;
  readonly #map = new Map<string, unknown>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): unknown {
    return this.#map.get(key);
  }

  set(key: string, value: unknown): void {
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value ?? "");
    this.#map.set(key, value);
  }
}

export async function openGeo(o: GeoOptions): Promise<Geo> {
  if (o.cityPath === "" && o.asnPath === "") return NO_GEO;
  const open = async <T extends CityResponse | AsnResponse>(path: string, key: string, which: "city" | "asn"): Promise<Watched<T> | undefined> => {
    if (path === "") return undefined;
    try {
      return new Watched<T>(path, await loadReader<T>(path), o, which);
    } catch (err) {
      throw new ConfigError(key, `cannot read the MaxMind database: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  };
  const city = await open<CityResponse>(o.cityPath, "VIGIL_GEOIP_CITY_DATABASE", "city");
  const asnDb = await open<AsnResponse>(o.asnPath, "VIGIL_GEOIP_ASN_DATABASE", "asn");
  const cityOf = (ip: string): CityResponse | undefined => safely(() => city?.reader.get(ip) ?? undefined);
  const asnOf = (ip: string): { asn: number; organization?: string } | undefined => {
    const r = safely(() => asnDb?.reader.get(ip) ?? undefined);
    const asn = r?.autonomous_system_number;
    if (typeof asn !== "number") return undefined;
    const org = r?.autonomous_system_organization;
    return typeof org === "string" ? { asn, organization: org } : { asn };
  };
  return {
    hasCity: city !== undefined,
    hasAsn: asnDb !== undefined,
    place(ip, time) {
      const r = cityOf(ip);
      const loc = r?.location;
      if (loc === undefined || !Number.isFinite(loc.latitude) || !Number.isFinite(loc.longitude)) return undefined;
      const place: Place = {
        latitude: loc.latitude,
        longitude: loc.longitude,
        accuracyRadiusKm: (loc as { accuracy_radius?: number }).accuracy_radius ?? DEFAULT_RADIUS_KM,
        time,
      };
      const country = r?.country?.iso_code ?? r?.registered_country?.iso_code;
      const cityName = r?.city?.names.en;
      if (country !== undefined) place.country = country;
      if (cityName !== undefined) place.city = cityName;
      return place;
    },
    asn: asnOf,
    location(ip) {
      const r = cityOf(ip);
      const a = asnOf(ip);
      const out: SessionLocation = {};
      const country = r?.country?.iso_code ?? r?.registered_country?.iso_code;
      if (country !== undefined) out.country = country;
      if (r?.city?.names.en !== undefined) out.city = r.city.names.en;
      if (a !== undefined) {
        out.asn = a.asn;
        if (a.organization !== undefined) out.asOrganization = a.organization;
      }
      return Object.keys(out).length === 0 ? undefined : out;
    },
    close() {
      city?.close();
      asnDb?.close();
    },
  };
}

function safely<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
