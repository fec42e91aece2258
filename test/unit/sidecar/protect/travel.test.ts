import { describe, expect, it } from "vitest";
import type { Place } from "../../../../operator/api/protections/findings.ts";
import { assessTravel, haversineKm, impossibleFrom, newCountry } from "../../../../sidecar/protect/travel.ts";

const H = 3_600_000;
const settings = { maxSpeedKmh: 1000, minDistanceKm: 100 };
const at = (p: Omit<Place, "time">, time: number): Place => ({ ...p, time });
// The City test database's places (test/fixtures/geoip/README.md).
const singapore = { country: "SG", city: "Singapore", latitude: 1.336, longitude: 103.7716, accuracyRadiusKm: 10 };
const melbourne = { country: "AU", city: "Melbourne", latitude: -37.8159, longitude: 144.9669, accuracyRadiusKm: 20 };
const berlin = { country: "DE", latitude: 52.52, longitude: 13.405, accuracyRadiusKm: 5 };
const potsdam = { country: "DE", latitude: 52.39, longitude: 13.065, accuracyRadiusKm: 5 };
const vague = { country: "DE", latitude: 51.5, longitude: 10.5, accuracyRadiusKm: 500 };

describe("haversine", () => {
  it("measures Singapore–Melbourne as about 6,030 km and a place to itself as 0", () => {
    expect(haversineKm(singapore, melbourne)).toBeGreaterThan(6000);
    expect(haversineKm(singapore, melbourne)).toBeLessThan(6100);
    expect(haversineKm(berlin, berlin)).toBe(0);
  });
});

describe("assessTravel (a controllable clock: times are plain numbers)", () => {
  it.each([
    ["Singapore → Melbourne in 1 hour", at(singapore, 0), at(melbourne, H), true],
    ["Singapore → Melbourne in 10 hours (a flight)", at(singapore, 0), at(melbourne, 10 * H), false],
    ["Singapore → Melbourne one second apart (time floored at 5 min, not infinite)", at(singapore, 0), at(melbourne, 1000), true],
    ["the same city twice at once", at(singapore, 0), at(singapore, 1), false],
    ["Berlin → Potsdam in a minute: fast but shorter than minDistanceKm", at(berlin, 0), at(potsdam, 60_000), false],
    ["two places whose accuracy circles overlap", at(berlin, 0), at(vague, 60_000), false],
    ["sightings out of order compare the other way round", at(melbourne, H), at(singapore, 0), true],
  ])("%s → impossible: %s", (_name, a, b, impossible) => {
    expect(assessTravel(a, b, settings) !== undefined).toBe(impossible);
  });

  it("gives the evidence: both places, distance, effective distance, time and speed", () => {
    const found = assessTravel(at(singapore, 0), at(melbourne, 2 * H), settings)!;
    expect(found).toMatchObject({ kind: "travel", from: { city: "Singapore" }, to: { city: "Melbourne" }, elapsedSeconds: 7200, maxSpeedKmh: 1000 });
    expect(found.effectiveDistanceKm).toBeCloseTo(found.distanceKm - 30, 0);
    expect(found.speedKmh).toBeCloseTo(found.effectiveDistanceKm / 2, 0);
  });

  it("respects the settings: a lower speed limit flags a 10-hour flight", () => {
    expect(assessTravel(at(singapore, 0), at(melbourne, 10 * H), { maxSpeedKmh: 500, minDistanceKm: 100 })).toBeDefined();
  });

  it("reports the fastest impossible move from the recent history", () => {
    const history = [at(berlin, 0), at(singapore, 5 * H)];
    expect(impossibleFrom(history, at(melbourne, 6 * H), settings)?.from.city).toBe("Singapore");
    expect(impossibleFrom([], at(melbourne, 0), settings)).toBeUndefined();
  });
});

describe("newCountry", () => {
  it("is a first sighting from a country the history does not have", () => {
    expect(newCountry([at(singapore, 0)], at(melbourne, H))).toEqual({ kind: "newCountry", country: "AU", knownCountries: ["SG"] });
    expect(newCountry([at(berlin, 0)], at(potsdam, H))).toBeUndefined();
    expect(newCountry([], at(melbourne, H))).toBeUndefined();
  });
});
