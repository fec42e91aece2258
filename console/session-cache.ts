/**
 * The console's view of every session in its scope, pure: a summary per (namespace, session) kept from the sessions
 * API's list + watch (console/session-feed.ts), queried with filters, paged and counted in memory — so a page of the
 * sessions table costs microseconds with 10,000 sessions, and a change reaches open pages within a second.
 */
import type { SessionState, VigilSession } from "../operator/api/sessions/v1alpha1.ts";

export interface SessionSummary {
  namespace: string;
  id: string;
  user: string;
  subject: string;
  groups: readonly string[];
  workloads: readonly string[];
  client: string;
  state: SessionState;
  stale: boolean;
  flows: number;
  /** Bytes of the live flows (in + out). */
  flowBytes: number;
  startTime: string;
  lastActivityTime: string;
  endReason?: string;
  terminationRequested: boolean;
}

export function summarize(s: VigilSession): SessionSummary {
  return {
    namespace: s.metadata.namespace,
    id: s.metadata.name,
    user: s.identity.email ?? s.identity.subject,
    subject: s.identity.subject,
    groups: s.identity.groups,
    workloads: [...new Set(s.workloads.flatMap((w) => [w.name ?? w.pod]))],
    client: s.lastIP,
    state: s.state,
    stale: s.stale,
    flows: s.flows.length,
    flowBytes: s.flows.reduce((n, f) => n + f.bytesIn + f.bytesOut, 0),
    startTime: s.startTime,
    lastActivityTime: s.lastActivityTime,
    ...(s.endReason === undefined ? {} : { endReason: s.endReason }),
    terminationRequested: s.terminationRequested !== undefined,
  };
}

export interface SessionQuery {
  namespace?: string;
  /** Substring of the email or subject, case-insensitive. */
  user?: string;
  group?: string;
  workload?: string;
  state?: string;
  page?: number;
  pageSize?: number;
}

export interface SessionPage {
  rows: SessionSummary[];
  /** Matching the filters. */
  total: number;
  page: number;
  pages: number;
  activeSessions: number;
  liveFlows: number;
}

const key = (namespace: string, id: string): string => `${namespace}/${id}`;

/** The filters as one predicate; an absent or empty filter matches everything. */
export function matcher(q: SessionQuery): (s: SessionSummary) => boolean {
  const user = q.user?.toLowerCase() ?? "";
  const state = q.state?.toLowerCase() ?? "";
  const namespace = q.namespace ?? "";
  const group = q.group ?? "";
  const workload = q.workload ?? "";
  return (s) =>
    (namespace === "" || s.namespace === namespace) &&
    (user === "" || s.user.toLowerCase().includes(user) || s.subject.toLowerCase().includes(user)) &&
    (group === "" || s.groups.includes(group)) &&
    (workload === "" || s.workloads.includes(workload)) &&
    (state === "" || s.state.toLowerCase() === state);
}

export class SessionCache {
  readonly #items = new Map<string, SessionSummary>();
  readonly #listeners = new Set<() => void>();
  #version = 0;
  #synced = false;

  get version(): number {
    return this.#version;
  }

  get synced(): boolean {
    return this.#synced;
  }

  get size(): number {
    return this.#items.size;
  }

  /** Replaces everything (a fresh list). */
  reset(items: readonly VigilSession[]): void {
    this.#items.clear();
    for (const s of items) this.#items.set(key(s.metadata.namespace, s.metadata.name), summarize(s));
    this.#synced = true;
    this.#changed();
  }

  apply(type: "ADDED" | "MODIFIED" | "DELETED", s: VigilSession): void {
    const k = key(s.metadata.namespace, s.metadata.name);
    if (type === "DELETED") this.#items.delete(k);
    else this.#items.set(k, summarize(s));
    this.#changed();
  }

  get(namespace: string, id: string): SessionSummary | undefined {
    return this.#items.get(key(namespace, id));
  }

  /** Every namespace part of one session. */
  partsOf(id: string): SessionSummary[] {
    return [...this.#items.values()].filter((s) => s.id === id);
  }

  namespaces(): string[] {
    return [...new Set([...this.#items.values()].map((s) => s.namespace))].sort();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  query(q: SessionQuery): SessionPage {
    const matches = matcher(q);
    const matching: SessionSummary[] = [];
    let activeSessions = 0;
    let liveFlows = 0;
    for (const s of this.#items.values()) {
      if (!matches(s)) continue;
      matching.push(s);
      if (s.state === "Active") activeSessions++;
      liveFlows += s.flows;
    }
    matching.sort((a, b) => b.lastActivityTime.localeCompare(a.lastActivityTime) || a.id.localeCompare(b.id) || a.namespace.localeCompare(b.namespace));
    const pageSize = Math.min(Math.max(q.pageSize ?? 50, 1), 500);
    const pages = Math.max(1, Math.ceil(matching.length / pageSize));
    const page = Math.min(Math.max(q.page ?? 1, 1), pages);
    return { rows: matching.slice((page - 1) * pageSize, page * pageSize), total: matching.length, page, pages, activeSessions, liveFlows };
  }

  #changed(): void {
    this.#version++;
    for (const l of this.#listeners) l();
  }
}
