/**
 * Keep the `caBundle` of every webhook in a named MutatingWebhookConfiguration equal to the CA the webhook serves
 * with. `caBundlePatch` (pure) returns the JSON patch (a `test` of each webhook's name before replacing its bundle,
 * so a reordered configuration never gets the wrong entry patched), or undefined when every bundle is already
 * current; `ensureCaBundle` reads the configuration and applies that patch only when something differs — a
 * current configuration is never written (no resourceVersion churn). A missing configuration → `{found: false}`.
 * Needs RBAC `get` + `patch` on that one `mutatingwebhookconfigurations` name.
 */
import type { AdmissionregistrationV1Api, V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { isNotFound } from "../errors.ts";

/** The wire form of a PEM bundle (caBundle is `[]byte`, so base64 in JSON). */
export const toCaBundle = (pem: string): string => Buffer.from(pem, "utf8").toString("base64");

type Op = { op: "test" | "replace" | "add"; path: string; value: unknown };

export function caBundlePatch(config: V1MutatingWebhookConfiguration, caPem: string): Op[] | undefined {
  const wanted = toCaBundle(caPem);
  const ops: Op[] = [];
  (config.webhooks ?? []).forEach((webhook, i) => {
    if (webhook.clientConfig.caBundle === wanted) return;
    ops.push({ op: "test", path: `/webhooks/${i}/name`, value: webhook.name });
    ops.push({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: wanted });
  });
  return ops.length === 0 ? undefined : ops;
}

export interface CaBundleResult {
  found: boolean;
  changed: boolean;
}

export async function ensureCaBundle(api: AdmissionregistrationV1Api, name: string, caPem: string): Promise<CaBundleResult> {
  let current: V1MutatingWebhookConfiguration;
  try {
    current = await api.readMutatingWebhookConfiguration({ name });
  } catch (err) {
    if (isNotFound(err)) return { found: false, changed: false };
    throw err;
  }
  const patch = caBundlePatch(current, caPem);
  if (patch === undefined) return { found: true, changed: false };
  await api.patchMutatingWebhookConfiguration({ name, body: patch });
  return { found: true, changed: true };
}
