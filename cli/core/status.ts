/**
 * `kubectl vigil status`, pure: the report gathered from the API (cli/commands/status.ts) as one screen. Every
 * section is either data or the sentence saying why it could not be read (usually RBAC) — never silently empty.
 */
import type { AccessPolicy } from "../../operator/api/v1alpha1/access-policy.ts";
import type { SessionTermination } from "../../operator/api/v1alpha1/session-termination.ts";
import { humanDuration } from "../../operator/sessions-api/core/human-duration.ts";
import { orNone, renderTable } from "./table.ts";

export type Section<T> = { ok: true; value: T } | { ok: false; why: string };

export interface OperatorInfo {
  namespace: string;
  deployment: string;
  version: string;
  replicas: string;
  leader?: string;
  leaseRenewed?: string;
  leaseDurationSeconds?: number;
  sessionsApi: string;
}

export interface MetricsInfo {
  sidecarsKnown?: number;
  busRebuilds?: number;
  queueDepth?: number;
  ready: string;
}

export interface SidecarCount {
  namespace: string;
  injected: number;
  ready: number;
  selected: number;
  enforcing: number;
}

export interface StatusReport {
  operator: Section<OperatorInfo>;
  metrics: Section<MetricsInfo>;
  policies: Section<AccessPolicy[]>;
  terminations: Section<SessionTermination[]>;
  pods: Section<{ namespace: string; ready: boolean }[]>;
}

const cond = (p: AccessPolicy, type: string): string => {
  const c = p.status?.conditions?.find((x) => x.type === type);
  return c === undefined ? "Unknown" : c.status === "True" ? "True" : `${c.status} (${c.reason})`;
};

/** Highest bus revision any status reports: what the operator last published. */
export function busRevision(policies: readonly AccessPolicy[], terminations: readonly SessionTermination[]): number | undefined {
  const revs = [...policies.map((p) => p.status?.busRevision), ...terminations.map((t) => t.status?.busRevision)].filter(
    (r): r is number => typeof r === "number",
  );
  return revs.length === 0 ? undefined : Math.max(...revs);
}

export function sidecarsByNamespace(pods: readonly { namespace: string; ready: boolean }[], policies: readonly AccessPolicy[]): SidecarCount[] {
  const by = new Map<string, SidecarCount>();
  const of = (ns: string): SidecarCount => {
    let c = by.get(ns);
    if (c === undefined) by.set(ns, (c = { namespace: ns, injected: 0, ready: 0, selected: 0, enforcing: 0 }));
    return c;
  };
  for (const p of pods) {
    const c = of(p.namespace);
    c.injected++;
    if (p.ready) c.ready++;
  }
  for (const p of policies) {
    const c = of(p.metadata.namespace ?? "");
    c.selected = Math.max(c.selected, p.status?.selectedSidecars ?? 0);
    c.enforcing = Math.max(c.enforcing, p.status?.enforcingSidecars ?? 0);
  }
  return [...by.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
}

export const inProgress = (t: SessionTermination): boolean => t.status?.phase !== "Completed" && t.status?.phase !== "Failed";

function operatorLines(s: Section<OperatorInfo>, now: number): string[] {
  if (!s.ok) return [`Operator:      unknown — ${s.why}`];
  const o = s.value;
  const renewed = o.leaseRenewed === undefined ? "" : `, lease renewed ${humanDuration(now - Date.parse(o.leaseRenewed))} ago`;
  const late = o.leaseRenewed !== undefined && o.leaseDurationSeconds !== undefined && now - Date.parse(o.leaseRenewed) > o.leaseDurationSeconds * 1000;
  return [
    `Operator:      ${o.namespace}/${o.deployment}, version ${o.version}, ${o.replicas} replicas ready`,
    `Leader:        ${o.leader ?? "<none>"}${renewed}${late ? " — EXPIRED: no replica holds the lease" : ""}`,
    `Sessions API:  ${o.sessionsApi}`,
  ];
}

function metricsLines(s: Section<MetricsInfo>): string[] {
  if (!s.ok) return [`Metrics:       not available — ${s.why}`];
  const m = s.value;
  return [
    `Metrics:       ${m.sidecarsKnown ?? "?"} live sidecars known, ${m.busRebuilds ?? "?"} bus rebuilds, work queue ${m.queueDepth ?? "?"}; readiness: ${m.ready}`,
  ];
}

export function renderStatus(r: StatusReport, now: number): string {
  const out = [...operatorLines(r.operator, now)];
  const policies = r.policies.ok ? r.policies.value : [];
  const terminations = r.terminations.ok ? r.terminations.value : [];
  const rev = busRevision(policies, terminations);
  const unready = policies.filter((p) => cond(p, "Ready") !== "True");
  out.push(
    `Bus:           revision ${rev ?? "<none published>"}; ${unready.length === 0 ? "every policy Ready" : `${unready.length} policies not Ready (a Redis or sidecar problem shows there)`}`,
  );
  out.push(...metricsLines(r.metrics));

  out.push("", "Sidecars by namespace:");
  if (!r.pods.ok && !r.policies.ok) out.push(`  unknown — ${r.pods.why}`);
  else {
    const counts = sidecarsByNamespace(r.pods.ok ? r.pods.value : [], policies);
    if (!r.pods.ok) out.push(`  (injected pods unknown — ${r.pods.why})`);
    out.push(
      counts.length === 0
        ? "  <none>"
        : indent(
            renderTable(
              ["NAMESPACE", "PODS READY", "SELECTED", "ENFORCING"],
              counts.map((c) => [c.namespace, r.pods.ok ? `${c.ready}/${c.injected}` : "?", String(c.selected), String(c.enforcing)]),
            ),
          ),
    );
  }

  out.push("", "Policies:");
  if (!r.policies.ok) out.push(`  unknown — ${r.policies.why}`);
  else if (policies.length === 0) out.push("  <none>");
  else {
    const rows = policies.map((p) => [
      p.metadata.namespace ?? "",
      p.metadata.name ?? "",
      cond(p, "Accepted"),
      cond(p, "Ready"),
      `${p.status?.enforcingSidecars ?? 0}/${p.status?.selectedSidecars ?? 0}`,
      orNone(p.status?.busRevision?.toString()),
    ]);
    out.push(indent(renderTable(["NAMESPACE", "NAME", "ACCEPTED", "READY", "ENFORCING", "REVISION"], rows)));
  }

  out.push("", "Terminations in progress:");
  if (!r.terminations.ok) out.push(`  unknown — ${r.terminations.why}`);
  else {
    const running = terminations.filter(inProgress);
    if (running.length === 0) out.push(`  <none> (${terminations.length} finished)`);
    else {
      const rows = running.map((t) => [
        t.metadata.namespace ?? "",
        t.metadata.name ?? "",
        t.status?.phase ?? "Pending",
        `${t.status?.sidecarsAcknowledged ?? 0}/${t.status?.sidecarsExpected ?? "?"}`,
        humanDuration(now - Date.parse(t.metadata.creationTimestamp ?? new Date(now).toISOString())),
      ]);
      out.push(indent(renderTable(["NAMESPACE", "NAME", "PHASE", "ACKED", "AGE"], rows)));
    }
  }
  return out.join("\n") + "\n";
}

const indent = (table: string): string =>
  table
    .trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

/** The few operator metrics status shows, from Prometheus text. */
export function parseMetrics(text: string): Omit<MetricsInfo, "ready"> {
  const sum = (name: string): number | undefined => {
    let total: number | undefined;
    for (const line of text.split("\n")) {
      if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue;
      const value = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(value)) total = (total ?? 0) + value;
    }
    return total;
  };
  const out: Omit<MetricsInfo, "ready"> = {};
  const known = sum("vigil_operator_sidecars_known");
  const rebuilds = sum("vigil_operator_bus_rebuilds_total");
  const depth = sum("vigil_operator_workqueue_depth");
  return {
    ...out,
    ...(known === undefined ? {} : { sidecarsKnown: known }),
    ...(rebuilds === undefined ? {} : { busRebuilds: rebuilds }),
    ...(depth === undefined ? {} : { queueDepth: depth }),
  };
}
