/**
 * Impossible travel (pure; unit-tested with plain data and a controllable clock).
 *
 * `assessTravel(from, to, settings)`: d = great-circle distance (haversine, mean Earth radius 6371 km); the effective
 * distance subtracts both places' accuracy radii (MaxMind: 67 % confidence circles), never below 0; the speed is the
 * effective distance over the elapsed time, with the time floored at 5 minutes (two sightings a second apart are
 * not infinitely fast, and clocks of two sidecars differ a little). Travel is impossible when the speed exceeds
 * maxSpeedKmh AND the effective distance is at least minDistanceKm. Sightings out of order (to before from) are
 * compared the other way round.
 *
 * `newCountry(history, place)`: the place's country was never seen in the identity's (non-empty) recent history.
 */
import type { FindingEvidence, Place } from "../../operator/api/protections/findings.ts";

const EARTH_RADIUS_KM = 6371;
export const MIN_ELAPSED_MS = 5 * 60_000;

export interface TravelSettings {
  maxSpeedKmh: number;
  minDistanceKm: number;
}

export function haversineKm(a: Pick<Place, "latitude" | "longitude">, b: Pick<Place, "latitude" | "longitude">): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export type TravelEvidence = Extract<FindingEvidence, { kind: "travel" }>;

export function assessTravel(first: Place, second: Place, settings: TravelSettings): TravelEvidence | undefined {
  const [from, to] = first.time <= second.time ? [first, second] : [second, first];
  const distanceKm = haversineKm(from, to);
  const effectiveDistanceKm = Math.max(0, distanceKm - from.accuracyRadiusKm - to.accuracyRadiusKm);
  const elapsedMs = to.time - from.time;
  const speedKmh = effectiveDistanceKm / (Math.max(elapsedMs, MIN_ELAPSED_MS) / 3_600_000);
  if (effectiveDistanceKm < settings.minDistanceKm || speedKmh <= settings.maxSpeedKmh) return undefined;
  return {
    kind: "travel",
    from,
    to,
    distanceKm: round(distanceKm),
    effectiveDistanceKm: round(effectiveDistanceKm),
    elapsedSeconds: Math.round(elapsedMs / 1000),
    speedKmh: round(speedKmh),
    maxSpeedKmh: settings.maxSpeedKmh,
  };
}

/** The most alarming impossible move from any recent place to `place`, or undefined. */
export function impossibleFrom(history: readonly Place[], place: Place, settings: TravelSettings): TravelEvidence | undefined {
  let worst: TravelEvidence | undefined;
  for (const previous of history) {
    const found = assessTravel(previous, place, settings);
    if (found !== undefined && (worst === undefined || found.speedKmh > worst.speedKmh)) worst = found;
  }
  return worst;
}

export function newCountry(history: readonly Place[], place: Place): Extract<FindingEvidence, { kind: "newCountry" }> | undefined {
  if (place.country === undefined || history.length === 0) return undefined;
  const known = [...new Set(history.flatMap((p) => (p.country === undefined ? [] : [p.country])))].sort();
  if (known.length === 0 || known.includes(place.country)) return undefined;
  return { kind: "newCountry", country: place.country, knownCountries: known };
}

const round = (x: number): number => Math.round(x * 10) / 10;
