/**
 * Keep the `caBundle` of the APIService `v1alpha1.sessions.vigil.dev` equal to the CA the sessions API serves with
 * (the webhook's self-managed CA, plus the previous one while a renewed CA rolls out) — the same approach as the
 * MutatingWebhookConfiguration's (operator/webhook/ca-bundle.ts). Writes only when it differs; a missing APIService
 * is reported, not created (the chart owns it). Needs RBAC `get` + `patch` on that one APIService name.
 */
import type { ApiregistrationV1Api } from "@kubernetes/client-node";
import { isNotFound } from "../errors.ts";
import { toCaBundle } from "../webhook/ca-bundle.ts";

export async function ensureApiServiceCaBundle(api: ApiregistrationV1Api, name: string, caPem: string): Promise<{ found: boolean; changed: boolean }> {
  let current;
  try {
    current = await api.readAPIService({ name });
  } catch (err) {
    if (isNotFound(err)) return { found: false, changed: false };
    throw err;
  }
  const wanted = toCaBundle(caPem);
  if (current.spec?.caBundle === wanted) return { found: true, changed: false };
  await api.patchAPIService({ name, body: [{ op: "add", path: "/spec/caBundle", value: wanted }] });
  return { found: true, changed: true };
}
