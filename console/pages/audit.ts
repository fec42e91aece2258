/** The audit page: filters, the events, and CSV / JSON exports of the same selection. */
import type { AuditEvent } from "../../cli/core/audit.ts";
import { href, html, raw, type Html } from "../html.ts";
import { sessionHref } from "./format.ts";

export interface AuditQuery {
  since?: string;
  user?: string;
  session?: string;
  code?: string;
  namespace?: string;
}

export const SINCE_CHOICES = ["15m", "1h", "24h", "168h"];

export function auditPage(events: readonly AuditEvent[], q: AuditQuery, error: string | undefined): Html {
  const query = { since: q.since, user: q.user, session: q.session, code: q.code, namespace: q.namespace };
  const shown = events.slice(-1000).reverse();
  return html`<h1>Audit</h1>
    ${error === undefined ? "" : html`<p class="notice" role="alert">${error}</p>`}
    <form method="get" action="/audit">
      <fieldset role="group">
        <select name="since" aria-label="Since">
          <option value="">all</option>
          ${SINCE_CHOICES.map((s) => html`<option value="${s}" ${s === q.since ? raw(" selected") : ""}>last ${s}</option>`)}
        </select>
        <input name="user" placeholder="user" aria-label="User" value="${q.user ?? ""}" />
        <input name="session" placeholder="session id" aria-label="Session" value="${q.session ?? ""}" />
        <input name="code" placeholder="code" aria-label="Code" value="${q.code ?? ""}" />
        <button type="submit">Filter</button>
      </fieldset>
    </form>
    <p>
      ${events.length} events${events.length > shown.length ? ` (newest ${shown.length} shown)` : ""} · export
      <a href="${href("/audit/export.csv", query)}" download>CSV</a> · <a href="${href("/audit/export.json", query)}" download>JSON</a>
    </p>
    <figure>
      <table>
        <thead>
          <tr>
            <th>Time</th>
            <th>Namespace</th>
            <th>Code</th>
            <th>Event</th>
            <th>Outcome</th>
            <th>User</th>
            <th>Actor</th>
            <th>Session</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (e) =>
              html`<tr data-code="${e.code}">
                <td>${e.time}</td>
                <td>${e.namespace}</td>
                <td>${e.code}</td>
                <td>${e.type}</td>
                <td>${e.outcome}</td>
                <td>${e.user}</td>
                <td>${e.actor}</td>
                <td>${e.session === "" ? "" : html`<a href="${sessionHref(e.namespace, e.session)}"><code>${e.session.slice(0, 10)}…</code></a>`}</td>
                <td>${[e.pod === "" ? "" : `pod ${e.pod}`, e.reason].filter((x) => x !== "").join("; ")}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </figure>`;
}
