import { describe, expect, it } from "vitest";
import type { CompiledPolicy, CompiledProtections } from "../../../../operator/api/compiled-policy.ts";
import { effectiveProtections, NO_PROTECTIONS } from "../../../../sidecar/protect/effective.ts";
import { networkLabel } from "../../../../sidecar/protect/network.ts";

const prefix = { granularity: "Prefix" as const, ipv4PrefixLength: 24, ipv6PrefixLength: 64 };
const noAsn = (): undefined => undefined;

describe("networkLabel", () => {
  it.each([
    ["203.0.113.7", "203.0.113.0/24"],
    ["203.0.113.250", "203.0.113.0/24"],
    ["2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"],
    ["2001:db8:1:3::1", "2001:db8:1:3::/64"],
  ])("puts %s in %s", (ip, label) => {
    expect(networkLabel(ip, prefix, noAsn)).toBe(label);
  });

  it("uses the configured prefix lengths", () => {
    expect(networkLabel("203.0.113.7", { ...prefix, ipv4PrefixLength: 16 }, noAsn)).toBe("203.0.0.0/16");
    expect(networkLabel("2001:db8:1:2::1", { ...prefix, ipv6PrefixLength: 48 }, noAsn)).toBe("2001:db8:1::/48");
  });

  it("uses the autonomous system when asked and known, else the prefix", () => {
    const asn = { ...prefix, granularity: "ASN" as const };
    expect(networkLabel("1.128.0.1", asn, () => 1221)).toBe("AS1221");
    expect(networkLabel("203.0.113.7", asn, noAsn)).toBe("203.0.113.0/24");
  });
});

function policy(name: string, protections?: Partial<CompiledProtections>): CompiledPolicy {
  const off: CompiledProtections = {
    network: { mode: "Off", ...prefix },
    device: { mode: "Off", components: ["Browser"] },
    travel: { mode: "Off", maxSpeedKmh: 1000, minDistanceKm: 100 },
    concurrent: { mode: "Off", maxSessions: 0, onExceed: "RefuseNew" },
  };
  return {
    v: 1,
    namespace: "shop",
    name,
    uid: name,
    generation: 1,
    hash: "0".repeat(64),
    selector: { matchLabels: {}, matchExpressions: [] },
    rules: [],
    session: { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 600, ...(protections === undefined ? {} : { protections: { ...off, ...protections } }) },
    failureMode: "Strict",
  };
}

describe("effectiveProtections: the strictest mode wins", () => {
  it("is nothing at all without protections", () => {
    expect(effectiveProtections([policy("a"), policy("b")])).toBe(NO_PROTECTIONS);
    expect(effectiveProtections([policy("a", {})]).any).toBe(false);
  });

  it("takes Enforce over Audit, the longest prefixes, Prefix over ASN, every device component, the lowest travel limits", () => {
    const eff = effectiveProtections([
      policy("audit", {
        network: { mode: "Audit", granularity: "ASN", ipv4PrefixLength: 28, ipv6PrefixLength: 56 },
        device: { mode: "Audit", components: ["Browser", "JA4"] },
        travel: { mode: "Audit", maxSpeedKmh: 800, minDistanceKm: 300 },
      }),
      policy("enforce", {
        network: { mode: "Enforce", granularity: "Prefix", ipv4PrefixLength: 24, ipv6PrefixLength: 64 },
        device: { mode: "Enforce", components: ["Platform"] },
        travel: { mode: "Enforce", maxSpeedKmh: 1000, minDistanceKm: 50 },
      }),
    ]);
    expect(eff.network).toEqual({ mode: "Enforce", policy: "shop/enforce", granularity: "Prefix", ipv4PrefixLength: 28, ipv6PrefixLength: 64 });
    expect(eff.device).toEqual({ mode: "Enforce", policy: "shop/enforce", components: ["Browser", "JA4", "Platform"] });
    expect(eff.travel).toEqual({ mode: "Enforce", policy: "shop/enforce", maxSpeedKmh: 800, minDistanceKm: 50 });
  });

  it("keeps every policy's session limit (each counts on its own workloads)", () => {
    const eff = effectiveProtections([
      policy("a", { concurrent: { mode: "Enforce", maxSessions: 2, onExceed: "EndOldest" } }),
      policy("b", { concurrent: { mode: "Audit", maxSessions: 5, onExceed: "RefuseNew" } }),
      policy("c", { concurrent: { mode: "Off", maxSessions: 1, onExceed: "RefuseNew" } }),
    ]);
    expect(eff.concurrent.map((c) => [c.policy, c.mode, c.maxSessions])).toEqual([
      ["shop/a", "Enforce", 2],
      ["shop/b", "Audit", 5],
    ]);
  });
});
