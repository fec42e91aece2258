/** AccessPolicies: conditions, the workloads they select, the sidecars enforcing them, the rules in words. */
import type { AccessPolicy } from "../../operator/api/v1alpha1/access-policy.ts";
import { html, type Html } from "../html.ts";
import { ruleInWords, selectorInWords } from "../policy-words.ts";

export interface PolicyView {
  policy: AccessPolicy;
  /** Pod names the selector matches, or why they could not be listed. */
  pods: string[] | string;
}

export function policiesPage(views: readonly PolicyView[], error: string | undefined): Html {
  return html`<h1>Policies</h1>
    ${error === undefined ? "" : html`<p class="notice" role="alert">${error}</p>`} ${views.length === 0 ? html`<p>No AccessPolicies.</p>` : ""}
    ${views.map(({ policy: p, pods }) => {
      const st = p.status ?? {};
      return html`<article data-policy="${p.metadata.name}">
        <header><strong>${p.metadata.namespace}/${p.metadata.name}</strong> · ${p.spec.failureMode ?? "Strict"} · bus revision ${st.busRevision ?? "—"}</header>
        <p>
          ${(st.conditions ?? []).map((c) => html`<span class="condition" data-status="${c.status}">${c.type}=${c.status}</span> <small>${c.reason}: ${c.message}</small><br />`)}
        </p>
        <p>Selects ${selectorInWords(p.spec.selector)}: ${typeof pods === "string" ? pods : pods.length === 0 ? "no pods now" : pods.join(", ")}</p>
        <p>Enforcing sidecars: <strong>${st.enforcingSidecars ?? 0}</strong> of ${st.selectedSidecars ?? 0} selected</p>
        <ol>
          ${p.spec.rules.map((r) => html`<li><strong>${r.name}</strong>: ${ruleInWords(r)}</li>`)}
        </ol>
        ${p.spec.session === undefined ? "" : html`<p><small>Sessions: idle timeout ${p.spec.session.idleTimeout ?? "30m"}, absolute ${p.spec.session.absoluteTimeout ?? "8h"}</small></p>`}
      </article>`;
    })}`;
}
