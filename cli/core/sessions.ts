/**
 * VigilSessions for people, pure: the filters of `kubectl vigil sessions` as a field selector the sessions API
 * evaluates (docs/decisions/sessions-api-0003-field-selectors.md), the table rows, and the one-session view with
 * flows and the audit timeline.
 */
import { SESSION_STATES, type SessionState, type VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import { humanDuration } from "../../operator/sessions-api/core/human-duration.ts";
import { UsageError } from "../kube/errors.ts";
import { orNone, renderTable } from "./table.ts";

export interface SessionFilters {
  user?: string;
  group?: string;
  workload?: string;
  state?: string;
}

/** fields.ParseSelector escaping: `\`, `,` and `=` in values. */
export const escapeSelectorValue = (value: string): string => value.replace(/[\\,=]/g, (c) => `\\${c}`);

/** The field selector for the filters; states are spelled as the API spells them (case-insensitive input). */
export function sessionFieldSelector(filters: SessionFilters, name?: string): string {
  const terms: string[] = [];
  if (name !== undefined) terms.push(`metadata.name=${escapeSelectorValue(name)}`);
  if (filters.user !== undefined) terms.push(`user=${escapeSelectorValue(filters.user)}`);
  if (filters.group !== undefined) terms.push(`group=${escapeSelectorValue(filters.group)}`);
  if (filters.workload !== undefined) terms.push(`workload=${escapeSelectorValue(filters.workload)}`);
  if (filters.state !== undefined) terms.push(`state=${normaliseState(filters.state)}`);
  return terms.join(",");
}

export function normaliseState(text: string): SessionState {
  const found = SESSION_STATES.find((s) => s.toLowerCase() === text.toLowerCase());
  if (found === undefined) throw new UsageError(`--state ${text}: use one of ${SESSION_STATES.join(", ")}`);
  return found;
}

export const userOf = (s: VigilSession): string => s.identity.email ?? s.identity.subject;
export const stateOf = (s: VigilSession): string => (s.stale && s.state !== "Ended" ? `${s.state} (stale)` : s.state);
export const workloadsOf = (s: VigilSession): string => [...new Set(s.workloads.map((w) => w.name ?? w.pod))].join(",");
const ago = (time: string | undefined, now: number): string => (time === undefined ? "<unknown>" : humanDuration(now - Date.parse(time)));

export const SESSION_COLUMNS = ["ID", "USER", "WORKLOADS", "CLIENT", "STATE", "FLOWS", "AGE", "LAST ACTIVE"];
export const SESSION_WIDE_COLUMNS = [...SESSION_COLUMNS, "GROUPS", "USER AGENT", "FIRST IP", "END REASON"];

export function sessionRow(s: VigilSession, now: number, wide: boolean): string[] {
  const row = [
    s.metadata.name,
    userOf(s),
    orNone(workloadsOf(s)),
    s.lastIP,
    stateOf(s),
    String(s.flows.length),
    ago(s.startTime, now),
    ago(s.lastActivityTime, now),
  ];
  if (!wide) return row;
  const end = s.endReason === undefined ? undefined : s.endReason;
  return [...row, orNone(s.identity.groups.join(",")), orNone(s.userAgent), s.firstIP, orNone(end)];
}

export function sessionsTable(items: readonly VigilSession[], now: number, opts: { wide: boolean; withNamespace: boolean }): string {
  if (items.length === 0) return "";
  const headers = opts.wide ? SESSION_WIDE_COLUMNS : SESSION_COLUMNS;
  return renderTable(
    opts.withNamespace ? ["NAMESPACE", ...headers] : headers,
    items.map((s) => (opts.withNamespace ? [s.metadata.namespace, ...sessionRow(s, now, opts.wide)] : sessionRow(s, now, opts.wide))),
  );
}

const bytes = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

/** One timeline entry: a session's recent audit event, or a Kubernetes Event about the session (a view, a termination). */
export interface TimelineEntry {
  time: string;
  code: string;
  type: string;
  outcome: string;
  detail: string;
  namespace: string;
  pod?: string;
}

export function timelineOf(parts: readonly VigilSession[]): TimelineEntry[] {
  return parts
    .flatMap((s) =>
      s.recentEvents.map((e) => ({
        time: e.time,
        code: e.code,
        type: e.type,
        outcome: e.outcome,
        detail: e.reason ?? "",
        namespace: s.metadata.namespace,
        ...(e.pod === undefined ? {} : { pod: e.pod }),
      })),
    )
    .sort((a, b) => a.time.localeCompare(b.time));
}

/** `kubectl vigil sessions get s_…`: every namespace's part of one session, described. */
export function describeSession(parts: readonly VigilSession[], extra: readonly TimelineEntry[], now: number): string {
  const first = parts[0];
  if (first === undefined) return "";
  const id = first.identity;
  const lines = [
    `Session:       ${first.metadata.name}`,
    `User:          ${userOf(first)}`,
    `Subject:       ${id.subject} (issuer ${id.issuer})`,
    `Groups:        ${orNone(id.groups.join(", "))}`,
    ...Object.entries(id.claims ?? {}).map(([k, v]) => `Claim ${k}:`.padEnd(15) + (Array.isArray(v) ? v.join(", ") : v)),
    `State:         ${stateOf(first)}${first.endReason === undefined ? "" : ` (${first.endReason})`}`,
    `Client:        ${first.lastIP}${first.firstIP === first.lastIP ? "" : ` (first ${first.firstIP})`}`,
    `User agent:    ${orNone(first.userAgent)}`,
    `Started:       ${first.startTime} (${ago(first.startTime, now)} ago)`,
    `Last active:   ${first.lastActivityTime} (${ago(first.lastActivityTime, now)} ago)`,
    ...(first.endTime === undefined ? [] : [`Ended:         ${first.endTime}`]),
  ];
  for (const s of parts) {
    lines.push("", `Namespace ${s.metadata.namespace}:`);
    lines.push(`  Workloads:   ${orNone(s.workloads.map((w) => `${w.name ?? w.pod} (pod ${w.pod}${w.stale === true ? ", stale" : ""})`).join(", "))}`);
    lines.push(`  Admitted by: ${orNone(s.admittedBy.map((a) => `${a.policy}/${a.rule}`).join(", "))}`);
    lines.push(`  Requests:    ${s.requests}`);
    if (s.terminationRequested !== undefined)
      lines.push(`  Termination: ${s.terminationRequested.sessionTermination} requested by ${s.terminationRequested.user}`);
    if (s.flows.length === 0) lines.push("  Flows:       <none>");
    else {
      lines.push("  Flows:");
      const table = renderTable(
        ["KIND", "POD", "PEER", "PORT", "IN", "OUT", "AGE"],
        s.flows.map((f) => [f.kind, f.pod, f.peer, String(f.port), bytes(f.bytesIn), bytes(f.bytesOut), ago(f.openedAt, now)]),
      );
      lines.push(
        ...table
          .trimEnd()
          .split("\n")
          .map((l) => `    ${l}`),
      );
    }
    lines.push(`  Closed flows: ${s.closedFlows.count} (${bytes(s.closedFlows.bytesIn)} in, ${bytes(s.closedFlows.bytesOut)} out)`);
  }
  const timeline = [...timelineOf(parts), ...extra].sort((a, b) => a.time.localeCompare(b.time));
  lines.push("", "Audit timeline:");
  if (timeline.length === 0) lines.push("  <none>");
  else {
    const table = renderTable(
      ["TIME", "NAMESPACE", "CODE", "EVENT", "OUTCOME", "DETAIL"],
      timeline.map((e) => [
        e.time,
        e.namespace,
        e.code,
        e.type,
        e.outcome,
        [e.pod === undefined ? "" : `pod ${e.pod}`, e.detail].filter((x) => x !== "").join("; "),
      ]),
    );
    lines.push(
      ...table
        .trimEnd()
        .split("\n")
        .map((l) => `  ${l}`),
    );
  }
  return lines.join("\n") + "\n";
}
