/** SessionTerminations: the list, and one with its progress pushed over SSE (event `progress`) until it finishes. */
import { REQUESTED_BY_ANNOTATION } from "../../operator/api/annotations.ts";
import type { SessionTermination, TerminationTarget } from "../../operator/api/v1alpha1/session-termination.ts";
import { html, type Html } from "../html.ts";
import { ago, sessionHref, terminationHref } from "./format.ts";

export function targetInWords(t: TerminationTarget, namespace: string): Html {
  if (t.sessionID !== undefined) return html`session <a href="${sessionHref(namespace, t.sessionID)}"><code>${t.sessionID}</code></a>`;
  if (t.subject !== undefined) return html`subject ${t.subject}${t.issuer === undefined ? "" : ` (issuer ${t.issuer})`}`;
  if (t.email !== undefined) return html`email ${t.email}`;
  if (t.group !== undefined) return html`group ${t.group}`;
  return html`every session in ${namespace}`;
}

function completed(s: NonNullable<SessionTermination["status"]>): string {
  if (s.completionTime === undefined) return "—";
  return s.startTime === undefined ? s.completionTime : `${s.completionTime} (${Date.parse(s.completionTime) - Date.parse(s.startTime)} ms after start)`;
}

export function progressBlock(t: SessionTermination, now: number): Html {
  const s = t.status ?? {};
  const unresponsive = s.unresponsiveSidecars ?? [];
  const phase = s.phase ?? "Pending";
  const problem = s.conditions?.find((c) => c.status !== "True");
  return html`<p class="phase">Phase <strong data-phase="${phase}">${phase}</strong></p>
    <table class="counts">
      <tr>
        <th>Sidecars acknowledged</th>
        <td data-count="acked">${s.sidecarsAcknowledged ?? 0} / ${s.sidecarsExpected ?? "?"}</td>
      </tr>
      <tr>
        <th>Sessions ended</th>
        <td data-count="sessions">${s.sessionsTerminated ?? 0}</td>
      </tr>
      <tr>
        <th>Connections closed</th>
        <td data-count="connections">${s.connectionsClosed ?? 0}</td>
      </tr>
      <tr>
        <th>Started</th>
        <td>${s.startTime ?? "—"}</td>
      </tr>
      <tr>
        <th>Completed</th>
        <td>${completed(s)}</td>
      </tr>
      ${
        problem === undefined
          ? ""
          : html`<tr>
              <th>${problem.type}</th>
              <td>${problem.reason}: ${problem.message}</td>
            </tr>`
      }
      ${
        unresponsive.length === 0
          ? ""
          : html`<tr>
              <th>Did not answer</th>
              <td>${unresponsive.join(", ")}</td>
            </tr>`
      }
    </table>
    <p><small>updated ${ago(new Date(now).toISOString(), now)} ago</small></p>`;
}

export function terminationPage(t: SessionTermination, now: number, warning: string | undefined): Html {
  const ns = t.metadata.namespace ?? "";
  const name = t.metadata.name ?? "";
  const live = t.status?.phase !== "Completed" && t.status?.phase !== "Failed";
  return html`<hgroup>
      <h1>Termination ${name}</h1>
      <p>in namespace ${ns}</p>
    </hgroup>
    ${warning === undefined ? "" : html`<p class="notice" role="alert">${warning}</p>`}
    <table>
      <tr>
        <th>Target</th>
        <td>${targetInWords(t.spec.target, ns)}</td>
      </tr>
      <tr>
        <th>Reason</th>
        <td>${t.spec.reason}</td>
      </tr>
      <tr>
        <th>Revoke for</th>
        <td>${t.spec.revokeFor ?? "— (the namespace's longest session timeout)"}</td>
      </tr>
      <tr>
        <th>Requested by</th>
        <td>${t.metadata.annotations?.[REQUESTED_BY_ANNOTATION] ?? "—"}</td>
      </tr>
    </table>
    ${
      live
        ? html`<div hx-ext="sse" sse-connect="${terminationHref(ns, name)}/stream">
            <section id="progress" sse-swap="progress">${progressBlock(t, now)}</section>
          </div>`
        : html`<section id="progress">${progressBlock(t, now)}</section>`
    }`;
}

export function terminationsPage(items: readonly SessionTermination[], now: number, error: string | undefined): Html {
  const sorted = [...items].sort((a, b) => (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? ""));
  return html`<h1>Terminations</h1>
    ${error === undefined ? "" : html`<p class="notice" role="alert">${error}</p>`}
    <figure>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Namespace</th>
            <th>Target</th>
            <th>Phase</th>
            <th>Sessions</th>
            <th>Connections</th>
            <th>Acked</th>
            <th>Requested by</th>
            <th>Reason</th>
            <th>Age</th>
          </tr>
        </thead>
        <tbody>
          ${
            sorted.length === 0
              ? html`<tr>
                  <td colspan="10">No terminations.</td>
                </tr>`
              : sorted.map((t) => {
                  const s = t.status ?? {};
                  const ns = t.metadata.namespace ?? "";
                  return html`<tr>
                    <td><a href="${terminationHref(ns, t.metadata.name ?? "")}">${t.metadata.name}</a></td>
                    <td>${ns}</td>
                    <td>${targetInWords(t.spec.target, ns)}</td>
                    <td>${s.phase ?? "Pending"}</td>
                    <td>${s.sessionsTerminated ?? 0}</td>
                    <td>${s.connectionsClosed ?? 0}</td>
                    <td>${s.sidecarsAcknowledged ?? 0}/${s.sidecarsExpected ?? "?"}</td>
                    <td>${t.metadata.annotations?.[REQUESTED_BY_ANNOTATION] ?? "—"}</td>
                    <td>${t.spec.reason}</td>
                    <td>${ago(t.metadata.creationTimestamp, now)}</td>
                  </tr>`;
                })
          }
        </tbody>
      </table>
    </figure>`;
}
