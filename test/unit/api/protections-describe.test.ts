import { describe, expect, it } from "vitest";
import { describeFinding, MAX_DESCRIPTION } from "../../../operator/api/protections/describe.ts";

const place = (city: string | undefined, country: string | undefined, time: number) => ({
  ...(city === undefined ? {} : { city }),
  ...(country === undefined ? {} : { country }),
  latitude: 1.2944,
  longitude: 103.8558,
  accuracyRadiusKm: 10,
  time,
});

describe("a finding in one line (recentEvents, kubectl vigil audit)", () => {
  it("says what changed, for every kind of evidence", () => {
    const f = { mode: "Enforce" as const, outcome: "refused" as const, policy: "shop/web" };
    expect(
      describeFinding({
        ...f,
        code: "SESSION_IMPOSSIBLE_TRAVEL",
        evidence: {
          kind: "travel",
          from: place("Singapore", "SG", 0),
          to: place(undefined, undefined, 3_600_000),
          distanceKm: 6051.4,
          effectiveDistanceKm: 6031.4,
          elapsedSeconds: 3600.2,
          speedKmh: 6031.1,
          maxSpeedKmh: 1000,
        },
      }),
    ).toBe("SESSION_IMPOSSIBLE_TRAVEL (Enforce, refused by shop/web): Singapore, SG → 1.29,103.86, 6051 km in 3600 s: 6031 km/h (max 1000)");
    expect(
      describeFinding({
        ...f,
        code: "SESSION_NEW_COUNTRY",
        mode: "Audit",
        outcome: "recorded",
        evidence: { kind: "newCountry", country: "AU", knownCountries: [] },
      }),
    ).toBe("SESSION_NEW_COUNTRY (Audit, recorded by shop/web): AU (known: none)");
    expect(
      describeFinding({
        code: "SESSION_LIMIT_EXCEEDED",
        mode: "Enforce",
        outcome: "refused",
        evidence: { kind: "limit", limit: 2, live: 3, onExceed: "EndOldest", ended: ["s_x"] },
      }),
    ).toBe("SESSION_LIMIT_EXCEEDED (Enforce, refused): 3 live sessions, limit 2 (EndOldest): 1 ended");
    expect(
      describeFinding({
        ...f,
        code: "SESSION_DEVICE_CHANGED",
        evidence: { kind: "device", changed: [{ component: "ClientCertificate", bound: "", observed: "b".repeat(8) }] },
      }),
    ).toBe("SESSION_DEVICE_CHANGED (Enforce, refused by shop/web): ClientCertificate none → bbbbbbbb");
  });

  it("stays within the index's bound on a reason", () => {
    const changed = (["Browser", "OperatingSystem", "Platform", "AcceptLanguage", "ClientCertificate", "JA4"] as const).map((component) => ({
      component,
      bound: "a".repeat(128),
      observed: "b".repeat(128),
    }));
    const text = describeFinding({ code: "SESSION_DEVICE_CHANGED", mode: "Audit", outcome: "recorded", evidence: { kind: "device", changed } });
    expect(text.length).toBe(MAX_DESCRIPTION);
    expect(text.endsWith("…")).toBe(true);
  });
});
