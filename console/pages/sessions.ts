/**
 * The sessions page: filters, counters, a paged table. The live block is re-rendered on the server and pushed over
 * server-sent events (`/sessions/stream`, event `sessions`) whenever the cache changes, so the browser runs no code
 * of ours: htmx's SSE extension swaps it in.
 */
import { SESSION_STATES } from "../../operator/api/sessions/v1alpha1.ts";
import type { SessionPage, SessionQuery } from "../session-cache.ts";
import { href, html, raw, type Html } from "../html.ts";
import { ago, sessionHref } from "./format.ts";

const queryOf = (q: SessionQuery): Record<string, string | number | undefined> => ({
  namespace: q.namespace,
  user: q.user,
  group: q.group,
  workload: q.workload,
  state: q.state,
  page: q.page === undefined || q.page === 1 ? undefined : q.page,
});

export function sessionsBlock(p: SessionPage, q: SessionQuery, now: number, feedError: string | undefined): Html {
  const rows = p.rows.map(
    (s) =>
      html`<tr data-session="${s.id}" data-namespace="${s.namespace}">
        <td>
          <a href="${sessionHref(s.namespace, s.id)}"><code>${s.id}</code></a>
        </td>
        <td>${s.namespace}</td>
        <td>${s.user}</td>
        <td>${s.groups.join(", ")}</td>
        <td>${s.workloads.join(", ")}</td>
        <td>${s.client}</td>
        <td data-state>${s.stale && s.state !== "Ended" ? `${s.state} (stale)` : s.state}${s.terminationRequested ? " · terminating" : ""}</td>
        <td data-flows>${s.flows}</td>
        <td>${ago(s.startTime, now)}</td>
        <td>${ago(s.lastActivityTime, now)}</td>
      </tr>`,
  );
  const pager =
    p.pages <= 1
      ? ""
      : html`<nav class="pager">
          <ul>
            ${p.page > 1 ? html`<li><a href="${href("/sessions", { ...queryOf(q), page: p.page - 1 })}">← newer</a></li>` : ""}
            <li>page ${p.page} of ${p.pages}</li>
            ${p.page < p.pages ? html`<li><a href="${href("/sessions", { ...queryOf(q), page: p.page + 1 })}">older →</a></li>` : ""}
          </ul>
        </nav>`;
  return html`${feedError === undefined ? "" : html`<p class="notice" role="alert">Cannot read sessions: ${feedError}</p>`}
    <p class="counters">
      Active sessions <strong data-counter="active">${p.activeSessions}</strong> · live flows <strong data-counter="flows">${p.liveFlows}</strong> · matching
      <strong data-counter="total">${p.total}</strong>
    </p>
    <figure>
      <table>
        <thead>
          <tr>
            <th>Session</th>
            <th>Namespace</th>
            <th>User</th>
            <th>Groups</th>
            <th>Workloads</th>
            <th>Client</th>
            <th>State</th>
            <th>Flows</th>
            <th>Started</th>
            <th>Last active</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="10">No sessions match.</td>
                </tr>`
              : rows
          }
        </tbody>
      </table>
    </figure>
    ${pager}`;
}

export function sessionsPage(p: SessionPage, q: SessionQuery, namespaces: readonly string[], now: number, feedError: string | undefined): Html {
  const option = (value: string, current: string | undefined, label = value): Html =>
    html`<option value="${value}" ${value === (current ?? "") ? raw(" selected") : ""}>${label}</option>`;
  return html`<h1>Sessions</h1>
    <form method="get" action="/sessions" class="filters">
      <fieldset role="group">
        <select name="namespace" aria-label="Namespace">
          ${option("", q.namespace, "all namespaces")}${namespaces.map((n) => option(n, q.namespace))}
        </select>
        <input name="user" placeholder="user" aria-label="User" value="${q.user ?? ""}" />
        <input name="group" placeholder="group" aria-label="Group" value="${q.group ?? ""}" />
        <input name="workload" placeholder="workload" aria-label="Workload" value="${q.workload ?? ""}" />
        <select name="state" aria-label="State">
          ${option("", q.state, "any state")}${SESSION_STATES.map((s) => option(s, q.state))}
        </select>
        <button type="submit">Filter</button>
      </fieldset>
    </form>
    <div hx-ext="sse" sse-connect="${href("/sessions/stream", queryOf(q))}">
      <section id="sessions" sse-swap="sessions">${sessionsBlock(p, q, now, feedError)}</section>
    </div>`;
}
