import { describe, expect, it } from "vitest";
import { compiledPolicySchema } from "../../../../operator/api/bus/schema.ts";
import type { CompiledPolicy } from "../../../../operator/api/compiled-policy.ts";
import type { AccessPolicy } from "../../../../operator/api/v1alpha1/index.ts";
import { compileAccessPolicy, PROBLEM_REASONS } from "../../../../operator/policy/compile.ts";
import { accessPolicy, staffCanRead, withRule, withSession } from "../../../builders/access-policy.ts";

function compiled(ap: AccessPolicy): CompiledPolicy {
  const result = compileAccessPolicy(ap);
  if (!result.ok) throw new Error(`expected the policy to compile: ${JSON.stringify(result.problems)}`);
  return result.policy;
}

describe("compileAccessPolicy: session protections", () => {
  it("leaves protections out (and the hash unchanged) when the policy sets none", () => {
    const plain = compiled(accessPolicy("web", withRule(staffCanRead)));
    const timeoutsOnly = compiled(accessPolicy("web", withRule(staffCanRead), withSession({ idleTimeout: "30m", absoluteTimeout: "8h" })));
    expect(plain.session).toEqual({ idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 28800 });
    expect(timeoutsOnly.hash).toBe(plain.hash);
  });

  it("fills every protection with its defaults (Off where absent) once one is set", () => {
    const policy = compiled(accessPolicy("web", withRule(staffCanRead), withSession({ networkBinding: { mode: "Enforce" } })));
    expect(policy.session.protections).toEqual({
      network: { mode: "Enforce", granularity: "Prefix", ipv4PrefixLength: 24, ipv6PrefixLength: 64 },
      device: { mode: "Off", components: ["AcceptLanguage", "Browser", "OperatingSystem", "Platform"] },
      travel: { mode: "Off", maxSpeedKmh: 1000, minDistanceKm: 100 },
      concurrent: { mode: "Off", maxSessions: 0, onExceed: "RefuseNew" },
    });
    expect(compiledPolicySchema.safeParse(policy).success).toBe(true);
  });

  it("compiles every field as written, components sorted and unique", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(staffCanRead),
        withSession({
          networkBinding: { mode: "Audit", granularity: "ASN", ipv4PrefixLength: 16, ipv6PrefixLength: 48 },
          deviceBinding: { mode: "Enforce", components: ["JA4", "Browser", "JA4", "ClientCertificate"] },
          impossibleTravel: { mode: "Enforce", maxSpeedKmh: 800, minDistanceKm: 50 },
          concurrentSessions: { mode: "Enforce", maxConcurrentSessions: 3, onExceed: "EndOldest" },
        }),
      ),
    );
    expect(policy.session.protections).toEqual({
      network: { mode: "Audit", granularity: "ASN", ipv4PrefixLength: 16, ipv6PrefixLength: 48 },
      device: { mode: "Enforce", components: ["Browser", "ClientCertificate", "JA4"] },
      travel: { mode: "Enforce", maxSpeedKmh: 800, minDistanceKm: 50 },
      concurrent: { mode: "Enforce", maxSessions: 3, onExceed: "EndOldest" },
    });
  });

  it.each([
    [{ networkBinding: { mode: "Block" } }, "spec.session.networkBinding.mode"],
    [{ networkBinding: { mode: "Enforce", ipv4PrefixLength: 33 } }, "spec.session.networkBinding.ipv4PrefixLength"],
    [{ networkBinding: { mode: "Enforce", ipv6PrefixLength: 8 } }, "spec.session.networkBinding.ipv6PrefixLength"],
    [{ deviceBinding: { mode: "Audit", components: ["AcceptLanguage"] } }, "spec.session.deviceBinding.components"],
    [{ deviceBinding: { mode: "Audit", components: ["ScreenSize"] } }, "spec.session.deviceBinding.components[0]"],
    [{ impossibleTravel: { mode: "Audit", maxSpeedKmh: 1.5 } }, "spec.session.impossibleTravel.maxSpeedKmh"],
    [{ concurrentSessions: { mode: "Enforce" } }, "spec.session.concurrentSessions.maxConcurrentSessions"],
    [{ concurrentSessions: { mode: "Enforce", maxConcurrentSessions: 2, onExceed: "Panic" } }, "spec.session.concurrentSessions.onExceed"],
  ])("refuses %j with InvalidProtection at %s", (session, field) => {
    const result = compileAccessPolicy(accessPolicy("web", withRule(staffCanRead), withSession(session as never)));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toContainEqual(expect.objectContaining({ reason: PROBLEM_REASONS.InvalidProtection, field }));
  });

  it("accepts a concurrency block switched Off without a limit", () => {
    const policy = compiled(accessPolicy("web", withRule(staffCanRead), withSession({ concurrentSessions: { mode: "Off" } })));
    expect(policy.session.protections?.concurrent).toEqual({ mode: "Off", maxSessions: 0, onExceed: "RefuseNew" });
  });
});

describe("the bus schema of a compiled policy's protections", () => {
  const base = compiled(accessPolicy("web", withRule(staffCanRead), withSession({ deviceBinding: { mode: "Audit" } })));

  it("accepts a policy without protections (an older operator's): every protection Off", () => {
    const session = { idleTimeoutSeconds: base.session.idleTimeoutSeconds, absoluteTimeoutSeconds: base.session.absoluteTimeoutSeconds };
    expect(compiledPolicySchema.safeParse({ ...base, session }).success).toBe(true);
  });

  it.each([
    ["an unknown mode", { network: { mode: "Block" } }],
    ["a prefix length out of range", { network: { ipv4PrefixLength: 0 } }],
    ["an unknown device component", { device: { components: ["Screen"] } }],
    ["a huge session limit", { concurrent: { maxSessions: 1_000_000 } }],
  ])("refuses %s", (_what, change) => {
    const p = structuredClone(base);
    const protections = p.session.protections as unknown as Record<string, Record<string, unknown>>;
    for (const [k, v] of Object.entries(change)) Object.assign(protections[k] ?? {}, v);
    expect(compiledPolicySchema.safeParse(p).success).toBe(false);
  });
});
