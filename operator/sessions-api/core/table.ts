/**
 * Server-side `Table` for VigilSessions (pure): what `kubectl get vigilsessions` prints. Columns ID, USER,
 * WORKLOADS, CLIENT, STATE, FLOWS, AGE, LAST ACTIVE; with `-o wide` (priority 1) GROUPS, USER AGENT, FIRST IP,
 * END REASON. Each row carries the object as the client asked (`includeObject`: PartialObjectMetadata by default,
 * Object, or None).
 */
import type { VigilSession } from "../../api/sessions/v1alpha1.ts";
import { humanDuration } from "./human-duration.ts";

export type TableVersion = "v1" | "v1beta1";
export type IncludeObject = "None" | "Object" | "PartialObjectMetadata";

export interface ColumnDefinition {
  name: string;
  type: "string" | "integer";
  format: string;
  description: string;
  priority: number;
}

export const COLUMNS: readonly ColumnDefinition[] = [
  { name: "ID", type: "string", format: "name", description: "The session id (s_…).", priority: 0 },
  { name: "User", type: "string", format: "", description: "The email, or the subject when the token has no email.", priority: 0 },
  { name: "Workloads", type: "string", format: "", description: "Workloads of this namespace the session reached.", priority: 0 },
  { name: "Client", type: "string", format: "", description: "The last client IP.", priority: 0 },
  { name: "State", type: "string", format: "", description: "Active, Idle or Ended; (stale) when a reporting sidecar stopped heartbeating.", priority: 0 },
  { name: "Flows", type: "integer", format: "", description: "Long-lived flows open right now in this namespace.", priority: 0 },
  { name: "Age", type: "string", format: "", description: "Time since the session started.", priority: 0 },
  { name: "Last Active", type: "string", format: "", description: "Time since the last activity in this namespace.", priority: 0 },
  { name: "Groups", type: "string", format: "", description: "The identity's groups.", priority: 1 },
  { name: "User Agent", type: "string", format: "", description: "The client's user agent.", priority: 1 },
  { name: "First IP", type: "string", format: "", description: "The client IP at the session's start.", priority: 1 },
  { name: "End Reason", type: "string", format: "", description: "Why the session ended.", priority: 1 },
];

const NONE = "<none>";

/** `a, b, c +2`: at most `max` entries, the rest counted. */
function listCell(values: readonly string[], max: number): string {
  if (values.length === 0) return NONE;
  const shown = values.slice(0, max).join(",");
  return values.length > max ? `${shown} +${values.length - max}` : shown;
}

function workloadNames(s: VigilSession): string[] {
  const names: string[] = [];
  for (const w of s.workloads) {
    const label = w.name ?? w.pod;
    if (!names.includes(label)) names.push(label);
  }
  return names;
}

export function rowCells(s: VigilSession, now: number): (string | number)[] {
  const since = (iso: string): string => humanDuration(now - Date.parse(iso));
  return [
    s.metadata.name,
    s.identity.email ?? s.identity.subject,
    listCell(workloadNames(s), 3),
    s.lastIP,
    s.stale && s.state !== "Ended" ? `${s.state} (stale)` : s.state,
    s.flows.length,
    since(s.startTime),
    since(s.lastActivityTime),
    listCell(s.identity.groups, 5),
    s.userAgent ?? NONE,
    s.firstIP,
    s.endReason ?? NONE,
  ];
}

function rowObject(s: VigilSession, include: IncludeObject, version: TableVersion): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return s;
  return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: s.metadata };
}

export interface TableMeta {
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface TableOptions {
  version: TableVersion;
  include: IncludeObject;
  now: number;
  /** Omit the column definitions (watch events after the first). */
  noHeaders?: boolean;
}

export function toTable(items: readonly VigilSession[], meta: TableMeta, opts: TableOptions): Record<string, unknown> {
  return {
    kind: "Table",
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata: meta,
    columnDefinitions: opts.noHeaders === true ? [] : COLUMNS,
    rows: items.map((s) => {
      const object = rowObject(s, opts.include, opts.version);
      return object === undefined ? { cells: rowCells(s, opts.now) } : { cells: rowCells(s, opts.now), object };
    }),
  };
}
