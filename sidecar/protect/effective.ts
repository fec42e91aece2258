/**
 * The protections that apply to a workload: the strictest over every policy that selects it (pure).
 *
 * - mode: Enforce > Audit > Off;
 * - network: Prefix beats ASN (a prefix is narrower than its autonomous system), the longest prefix lengths;
 * - device: the union of the compared components;
 * - travel: the lowest maxSpeedKmh and minDistanceKm;
 * - concurrent sessions: every policy's limit applies on its own (each counts the identity's sessions on the
 *   workloads it selects), so the list keeps one entry per policy that sets one.
 * Parameters are taken from the policies whose mode is not Off. `policy` names one policy that asked for the
 * winning mode (reported with findings).
 */
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import type { DeviceComponent, ExceedAction, NetworkGranularity, ProtectionMode } from "../../operator/api/v1alpha1/index.ts";

export interface ActiveMode {
  mode: "Audit" | "Enforce";
  policy: string;
}

export interface EffectiveProtections {
  /** False when every protection is Off: the request path does nothing more. */
  any: boolean;
  network: (ActiveMode & { granularity: NetworkGranularity; ipv4PrefixLength: number; ipv6PrefixLength: number }) | undefined;
  device: (ActiveMode & { components: DeviceComponent[] }) | undefined;
  travel: (ActiveMode & { maxSpeedKmh: number; minDistanceKm: number }) | undefined;
  concurrent: (ActiveMode & { maxSessions: number; onExceed: ExceedAction; policyName: string; namespace: string })[];
}

export const NO_PROTECTIONS: EffectiveProtections = Object.freeze({ any: false, network: undefined, device: undefined, travel: undefined, concurrent: [] });

const RANK: Record<ProtectionMode, number> = { Off: 0, Audit: 1, Enforce: 2 };

type Protections = NonNullable<CompiledPolicy["session"]["protections"]>;
type Kind = Exclude<keyof Protections, "concurrent">;

function strongest(policies: readonly CompiledPolicy[], kind: Kind): { active: ActiveMode; settings: Protections[Kind][] } | undefined {
  let best: ActiveMode | undefined;
  const settings: Protections[Kind][] = [];
  for (const p of policies) {
    const s = p.session.protections?.[kind];
    if (s === undefined || s.mode === "Off") continue;
    settings.push(s);
    if (best === undefined || RANK[s.mode] > RANK[best.mode]) best = { mode: s.mode, policy: `${p.namespace}/${p.name}` };
  }
  return best === undefined ? undefined : { active: best, settings };
}

export function effectiveProtections(policies: readonly CompiledPolicy[]): EffectiveProtections {
  if (!policies.some((p) => p.session.protections !== undefined)) return NO_PROTECTIONS;
  const network = networkOf(strongest(policies, "network"));
  const device = deviceOf(strongest(policies, "device"));
  const travel = travelOf(strongest(policies, "travel"));
  const concurrent = concurrentOf(policies);
  return { any: network !== undefined || device !== undefined || travel !== undefined || concurrent.length > 0, network, device, travel, concurrent };
}

type Strongest = ReturnType<typeof strongest>;

function networkOf(found: Strongest): EffectiveProtections["network"] {
  if (found === undefined) return undefined;
  const nets = found.settings as Protections["network"][];
  return {
    ...found.active,
    granularity: nets.some((n) => n.granularity === "Prefix") ? "Prefix" : "ASN",
    ipv4PrefixLength: Math.max(...nets.map((n) => n.ipv4PrefixLength)),
    ipv6PrefixLength: Math.max(...nets.map((n) => n.ipv6PrefixLength)),
  };
}

function deviceOf(found: Strongest): EffectiveProtections["device"] {
  if (found === undefined) return undefined;
  const devs = found.settings as Protections["device"][];
  return { ...found.active, components: [...new Set(devs.flatMap((d) => d.components))].sort() };
}

function travelOf(found: Strongest): EffectiveProtections["travel"] {
  if (found === undefined) return undefined;
  const trvs = found.settings as Protections["travel"][];
  return { ...found.active, maxSpeedKmh: Math.min(...trvs.map((t) => t.maxSpeedKmh)), minDistanceKm: Math.min(...trvs.map((t) => t.minDistanceKm)) };
}

function concurrentOf(policies: readonly CompiledPolicy[]): EffectiveProtections["concurrent"] {
  const out: EffectiveProtections["concurrent"] = [];
  for (const p of policies) {
    const c = p.session.protections?.concurrent;
    if (c === undefined || c.mode === "Off" || c.maxSessions < 1) continue;
    out.push({
      mode: c.mode,
      policy: `${p.namespace}/${p.name}`,
      maxSessions: c.maxSessions,
      onExceed: c.onExceed,
      policyName: p.name,
      namespace: p.namespace,
    });
  }
  return out;
}
