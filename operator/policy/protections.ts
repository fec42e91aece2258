/**
 * spec.session protections → CompiledProtections (pure). Absent blocks compile to Off; a policy that sets none of
 * the four blocks compiles to no `protections` at all (so existing policies keep their hash). Values outside the
 * CRD's bounds (the schema normally refuses them) are problems, never clamped silently.
 */
import type { CompiledProtections } from "../api/compiled-policy.ts";
import type {
  ConcurrentSessions,
  DeviceBinding,
  DeviceComponent,
  ExceedAction,
  ImpossibleTravel,
  NetworkBinding,
  NetworkGranularity,
  ProtectionMode,
  SessionSettings,
} from "../api/v1alpha1/index.ts";
import { quote, type Findings } from "./findings.ts";
import { PROBLEM_REASONS as P } from "./reasons.ts";

export const PROTECTION_DEFAULTS = {
  ipv4PrefixLength: 24,
  ipv6PrefixLength: 64,
  deviceComponents: ["AcceptLanguage", "Browser", "OperatingSystem", "Platform"] as DeviceComponent[],
  maxSpeedKmh: 1000,
  minDistanceKm: 100,
} as const;

const MODES: readonly ProtectionMode[] = ["Off", "Audit", "Enforce"];
const GRANULARITIES: readonly NetworkGranularity[] = ["Prefix", "ASN"];
const COMPONENTS: readonly DeviceComponent[] = ["Browser", "OperatingSystem", "Platform", "AcceptLanguage", "ClientCertificate", "JA4"];
const EXCEED: readonly ExceedAction[] = ["RefuseNew", "EndOldest"];

export function compileProtections(session: SessionSettings | undefined, findings: Findings): CompiledProtections | undefined {
  if (session === undefined) return undefined;
  const { networkBinding, deviceBinding, impossibleTravel, concurrentSessions } = session;
  if (networkBinding === undefined && deviceBinding === undefined && impossibleTravel === undefined && concurrentSessions === undefined) return undefined;
  return {
    network: network(networkBinding, findings),
    device: device(deviceBinding, findings),
    travel: travel(impossibleTravel, findings),
    concurrent: concurrent(concurrentSessions, findings),
  };
}

const F = "spec.session";

function network(net: NetworkBinding | undefined, findings: Findings): CompiledProtections["network"] {
  return {
    mode: mode(net?.mode, `${F}.networkBinding.mode`, findings),
    granularity: oneOf(net?.granularity ?? "Prefix", GRANULARITIES, `${F}.networkBinding.granularity`, findings),
    ipv4PrefixLength: bounded(net?.ipv4PrefixLength ?? PROTECTION_DEFAULTS.ipv4PrefixLength, 8, 32, `${F}.networkBinding.ipv4PrefixLength`, findings),
    ipv6PrefixLength: bounded(net?.ipv6PrefixLength ?? PROTECTION_DEFAULTS.ipv6PrefixLength, 16, 128, `${F}.networkBinding.ipv6PrefixLength`, findings),
  };
}

function device(dev: DeviceBinding | undefined, findings: Findings): CompiledProtections["device"] {
  const components = dev?.components ?? PROTECTION_DEFAULTS.deviceComponents;
  for (const [i, c] of components.entries()) if (!COMPONENTS.includes(c)) problem(findings, `${F}.deviceBinding.components[${i}]`, c, COMPONENTS);
  if (components.every((c) => c === "AcceptLanguage")) {
    findings.problem(P.InvalidProtection, `${F}.deviceBinding.components`, "AcceptLanguage alone does not identify a device; add another component");
  }
  return { mode: mode(dev?.mode, `${F}.deviceBinding.mode`, findings), components: [...new Set(components)].sort() };
}

function travel(t: ImpossibleTravel | undefined, findings: Findings): CompiledProtections["travel"] {
  return {
    mode: mode(t?.mode, `${F}.impossibleTravel.mode`, findings),
    maxSpeedKmh: bounded(t?.maxSpeedKmh ?? PROTECTION_DEFAULTS.maxSpeedKmh, 100, 20_000, `${F}.impossibleTravel.maxSpeedKmh`, findings),
    minDistanceKm: bounded(t?.minDistanceKm ?? PROTECTION_DEFAULTS.minDistanceKm, 1, 20_000, `${F}.impossibleTravel.minDistanceKm`, findings),
  };
}

function concurrent(c: ConcurrentSessions | undefined, findings: Findings): CompiledProtections["concurrent"] {
  const m = mode(c?.mode, `${F}.concurrentSessions.mode`, findings);
  const max = c?.maxConcurrentSessions;
  if (m !== "Off" && max === undefined) {
    findings.problem(P.InvalidProtection, `${F}.concurrentSessions.maxConcurrentSessions`, "maxConcurrentSessions is required unless mode is Off");
  }
  return {
    mode: m,
    maxSessions: max === undefined ? 0 : bounded(max, 1, 1000, `${F}.concurrentSessions.maxConcurrentSessions`, findings),
    onExceed: oneOf(c?.onExceed ?? "RefuseNew", EXCEED, `${F}.concurrentSessions.onExceed`, findings),
  };
}

function mode(value: ProtectionMode | undefined, field: string, findings: Findings): ProtectionMode {
  return oneOf(value ?? "Off", MODES, field, findings);
}

function oneOf<T extends string>(value: T, allowed: readonly T[], field: string, findings: Findings): T {
  if (!allowed.includes(value)) problem(findings, field, value, allowed);
  return value;
}

function problem(findings: Findings, field: string, value: unknown, allowed: readonly string[]): void {
  findings.problem(P.InvalidProtection, field, `${quote(value)} is not one of ${allowed.join(", ")}`);
}

function bounded(value: number, min: number, max: number, field: string, findings: Findings): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    findings.problem(P.InvalidProtection, field, `${quote(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}
