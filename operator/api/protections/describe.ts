/**
 * A finding in one line of text (pure): what the sessions API's `recentEvents` and `kubectl vigil audit` show as the
 * event's reason — the code, the mode and what the sidecar did, the policy, and the evidence (what changed: both
 * networks, each device component before and after, both places with distance, time and speed, the known
 * countries, the session counts). Served under the same RBAC as the finding itself; never logged. At most
 * `MAX_DESCRIPTION` characters (the index's bound on an event's reason).
 */
import type { FindingEvidence, Place, SessionFinding } from "./findings.ts";

export const MAX_DESCRIPTION = 256;

type Described = Pick<SessionFinding, "code" | "mode" | "outcome" | "evidence"> & { policy?: string | undefined };

export function describeFinding(f: Described): string {
  const head = `${f.code} (${f.mode}, ${f.outcome}${f.policy === undefined ? "" : ` by ${f.policy}`})`;
  const text = `${head}: ${describeEvidence(f.evidence)}`;
  return text.length <= MAX_DESCRIPTION ? text : `${text.slice(0, MAX_DESCRIPTION - 1)}…`;
}

function describeEvidence(e: FindingEvidence): string {
  switch (e.kind) {
    case "network":
      return `${e.bound} → ${e.observed}`;
    case "device":
      return e.changed.map((c) => `${c.component} ${c.bound || "none"} → ${c.observed || "none"}`).join("; ");
    case "travel":
      return `${placeOf(e.from)} → ${placeOf(e.to)}, ${Math.round(e.distanceKm)} km in ${Math.round(e.elapsedSeconds)} s: ${Math.round(e.speedKmh)} km/h (max ${e.maxSpeedKmh})`;
    case "newCountry":
      return `${e.country} (known: ${e.knownCountries.length === 0 ? "none" : e.knownCountries.join(", ")})`;
    case "limit":
      return `${e.live} live sessions, limit ${e.limit} (${e.onExceed})${e.ended.length === 0 ? "" : `: ${e.ended.length} ended`}`;
  }
}

function placeOf(p: Place): string {
  const named = [p.city, p.country].filter((x): x is string => x !== undefined && x !== "");
  return named.length > 0 ? named.join(", ") : `${p.latitude.toFixed(2)},${p.longitude.toFixed(2)}`;
}
