/**
 * One session as seen from one namespace: identity and the claims policy used, client, user agent, workloads; the
 * live part (state, flows with kind, bytes and age, the audit timeline) pushed over SSE (`…/stream`, event
 * `detail`); and the Terminate form (reason, optional revoke-for), posted with the CSRF token.
 */
import type { VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import type { AuditEvent } from "../../cli/core/audit.ts";
import { html, type Html } from "../html.ts";
import { ago, bytes, sessionHref, terminationHref } from "./format.ts";

function sessionDetail(s: VigilSession | undefined, timeline: readonly AuditEvent[], now: number): Html {
  if (s === undefined)
    return html`<p class="notice" role="status" data-state="Gone">This session is no longer listed in this namespace (it ended and its retention passed, or it was deleted).</p>`;
  const flows = s.flows.map(
    (f) =>
      html`<tr data-flow="${f.id}"><td>${f.kind}</td><td>${f.pod}</td><td>${f.peer}</td><td>${f.port}</td><td data-bytes-in>${bytes(f.bytesIn)}</td><td data-bytes-out>${bytes(f.bytesOut)}</td><td>${ago(f.openedAt, now)}</td></tr>`,
  );
  const state = s.stale && s.state !== "Ended" ? `${s.state} (stale)` : s.state;
  return html`<p class="state">State <strong data-state="${s.state}">${state}</strong>${s.endReason === undefined ? "" : html` — ${s.endReason}`} · last active ${ago(s.lastActivityTime, now)} ago · ${s.requests} requests</p>
${s.terminationRequested === undefined ? "" : html`<p>Termination <a href="${terminationHref(s.metadata.namespace, s.terminationRequested.sessionTermination)}">${s.terminationRequested.sessionTermination}</a> requested by ${s.terminationRequested.user}</p>`}
<h2>Live flows <small data-counter="flows">${s.flows.length}</small></h2>
${
  s.flows.length === 0
    ? html`<p>No live flows.</p>`
    : html`<figure><table><thead><tr><th>Kind</th><th>Pod</th><th>Peer</th><th>Port</th><th>In</th><th>Out</th><th>Age</th></tr></thead><tbody>${flows}</tbody></table></figure>`
}
<p>Closed flows: ${s.closedFlows.count} (${bytes(s.closedFlows.bytesIn)} in, ${bytes(s.closedFlows.bytesOut)} out)</p>
<h2>Audit timeline</h2>
${
  timeline.length === 0
    ? html`<p>No events.</p>`
    : html`<figure><table><thead><tr><th>Time</th><th>Code</th><th>Event</th><th>Outcome</th><th>Who</th><th>Detail</th></tr></thead><tbody>${timeline.map(
        (e) =>
          html`<tr><td>${e.time}</td><td>${e.code}</td><td>${e.type}</td><td>${e.outcome}</td><td>${e.actor === "" ? e.user : e.actor}</td><td>${[e.pod === "" ? "" : `pod ${e.pod}`, e.reason].filter((x) => x !== "").join("; ")}</td></tr>`,
      )}</tbody></table></figure>`
}`;
}

/**
 * The live block as the stream sends it: the detail, and once the session has ended (or is gone) an out-of-band swap
 * that takes the Terminate form off the page, so a page opened while the session was live stops offering it.
 */
export function sessionDetailUpdate(s: VigilSession | undefined, timeline: readonly AuditEvent[], now: number): Html {
  const over = s === undefined || s.state === "Ended";
  return html`${sessionDetail(s, timeline, now)}${over ? html`<div id="terminate" hx-swap-oob="true"></div>` : ""}`;
}

/** What the session page shows: the session, where else it is listed, its timeline, and the form's CSRF token. */
export interface SessionPageView {
  session: VigilSession;
  /** Other namespaces that list the same session. */
  otherNamespaces: readonly string[];
  timeline: readonly AuditEvent[];
  csrf: string;
  now: number;
  warning: string | undefined;
}

function identityTable(s: VigilSession, otherNamespaces: readonly string[], now: number): Html {
  const id = s.identity;
  const claims = Object.entries(id.claims ?? {});
  return html`<section class="identity"><table>
<tr><th>Subject</th><td>${id.subject}</td></tr>
<tr><th>Issuer</th><td>${id.issuer}</td></tr>
<tr><th>Email</th><td>${id.email ?? "—"}</td></tr>
<tr><th>Groups</th><td>${id.groups.join(", ") || "—"}</td></tr>
${claims.map(([k, v]) => html`<tr><th>Claim ${k}</th><td>${Array.isArray(v) ? v.join(", ") : v}</td></tr>`)}
<tr><th>Admitted by</th><td>${s.admittedBy.map((a) => `${a.policy} / rule ${a.rule}`).join(", ") || "—"}</td></tr>
<tr><th>Client IP</th><td>${s.lastIP}${s.firstIP === s.lastIP ? "" : ` (first ${s.firstIP})`}</td></tr>
<tr><th>User agent</th><td>${s.userAgent ?? "—"}</td></tr>
<tr><th>Started</th><td>${s.startTime} (${ago(s.startTime, now)} ago)</td></tr>
<tr><th>Workloads</th><td>${s.workloads.map((w) => `${w.name ?? w.pod} (pod ${w.pod}${w.stale === true ? ", stale" : ""})`).join(", ") || "—"}</td></tr>
${otherNamespaces.length === 0 ? "" : html`<tr><th>Also in</th><td>${otherNamespaces.map((n) => html`<a href="${sessionHref(n, s.metadata.name)}">${n}</a> `)}</td></tr>`}
</table></section>`;
}

function terminateForm(base: string, csrf: string): Html {
  return html`<details class="terminate">
<summary role="button" class="secondary">Terminate…</summary>
<form method="post" action="${base}/terminate">
<input type="hidden" name="csrf" value="${csrf}">
<label>Reason <input name="reason" required maxlength="1024" placeholder="why (shown in the termination's status and the audit trail)"></label>
<label>Keep the user's current tokens refused for (optional) <input name="revokeFor" maxlength="16" placeholder="e.g. 1h" pattern="([0-9]+h)?([0-9]+m)?([0-9]+s)?"></label>
<button type="submit">Terminate session</button>
</form>
</details>`;
}

export function sessionPage(v: SessionPageView): Html {
  const s = v.session;
  const base = sessionHref(s.metadata.namespace, s.metadata.name);
  return html`<hgroup><h1>${s.identity.email ?? s.identity.subject}</h1><p>Session <code>${s.metadata.name}</code> in namespace ${s.metadata.namespace}</p></hgroup>
${v.warning === undefined ? "" : html`<p class="notice" role="alert">${v.warning}</p>`}
${identityTable(s, v.otherNamespaces, v.now)}
<div id="terminate">${s.state === "Ended" ? "" : terminateForm(base, v.csrf)}</div>
<div hx-ext="sse" sse-connect="${base}/stream">
<section id="detail" sse-swap="detail">
${sessionDetail(s, v.timeline, v.now)}
</section>
</div>`;
}
