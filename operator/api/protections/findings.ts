/**
 * Session-protection findings: plain data with stable codes, shared by the sidecar (which finds them), the audit
 * stream (which carries them) and the sessions API (which shows them on the session). Pure; no I/O.
 *
 * A finding names the session, where it was found (namespace/pod), when, the mode that applied and what the sidecar
 * did (`recorded`: Audit, the request went through; `refused`: Enforce, the request was refused and the session
 * ended), and its evidence — enough for a person to judge it without the raw logs. Evidence never holds a token;
 * locations are personal data and travel only inside the sealed audit stream.
 *
 * Codes are API: never rename one, only add.
 */
import type { DeviceComponent, NetworkGranularity } from "../v1alpha1/index.ts";

export const FINDING_CODES = {
  /** A request or new flow came from outside the network the session started from. */
  SESSION_NETWORK_CHANGED: "SESSION_NETWORK_CHANGED",
  /** The device fingerprint changed (beyond a browser's minor update). */
  SESSION_DEVICE_CHANGED: "SESSION_DEVICE_CHANGED",
  /** The identity moved faster than a person can travel. */
  SESSION_IMPOSSIBLE_TRAVEL: "SESSION_IMPOSSIBLE_TRAVEL",
  /** First sighting of the identity from a country it was not seen in before (always an audit event). */
  SESSION_NEW_COUNTRY: "SESSION_NEW_COUNTRY",
  /** The identity has more live sessions on the selected workloads than the policy allows. */
  SESSION_LIMIT_EXCEEDED: "SESSION_LIMIT_EXCEEDED",
} as const;

export type FindingCode = (typeof FINDING_CODES)[keyof typeof FINDING_CODES];

/** Codes that end a session in Enforce mode (SESSION_NEW_COUNTRY is only ever recorded). */
export type EnforceableCode = Exclude<FindingCode, "SESSION_NEW_COUNTRY">;

/** A geolocated client address (MaxMind City: coordinates with a 67 %-confidence radius). */
export interface Place {
  /** ISO 3166-1 alpha-2. */
  country?: string;
  city?: string;
  latitude: number;
  longitude: number;
  accuracyRadiusKm: number;
  /** Epoch ms the identity was seen there. */
  time: number;
}

/** Where a session's client is, as shown on the session (absent parts unknown). */
export interface SessionLocation {
  country?: string;
  city?: string;
  asn?: number;
  asOrganization?: string;
}

export type FindingEvidence =
  | { kind: "network"; granularity: NetworkGranularity; bound: string; observed: string }
  | { kind: "device"; changed: { component: DeviceComponent; bound: string; observed: string }[] }
  | {
      kind: "travel";
      from: Place;
      to: Place;
      distanceKm: number;
      /** Distance minus both accuracy radii (never below 0). */
      effectiveDistanceKm: number;
      elapsedSeconds: number;
      speedKmh: number;
      maxSpeedKmh: number;
    }
  | { kind: "newCountry"; country: string; knownCountries: string[] }
  | { kind: "limit"; limit: number; live: number; onExceed: "RefuseNew" | "EndOldest"; ended: string[] };

export interface SessionFinding {
  v: 1;
  code: FindingCode;
  sessionId: string;
  namespace: string;
  pod: string;
  /** Epoch ms. */
  time: number;
  mode: "Audit" | "Enforce";
  outcome: "recorded" | "refused";
  /** `<namespace>/<name>` of a policy that asked for the mode applied. */
  policy?: string;
  evidence: FindingEvidence;
}
