/**
 * The MutatingWebhookConfiguration that routes pod creation to the injection webhook (pure builder; the chart's
 * template must render the same shape, and the local demo/tests apply it as built here).
 *
 * Two entries, because selectors see labels only (docs/decisions/webhook-0003-pod-opt-in-selectors.md):
 *   `namespaces.sidecar-injector.vigil.dev` — namespaces labelled `vigil.dev/injection=enabled`, every pod;
 *   `pods.sidecar-injector.vigil.dev`       — other namespaces, only pods labelled `vigil.dev/inject=true`.
 * Both exclude kube-system, kube-node-lease, kube-public and Vigil's own namespace by name (the
 * `kubernetes.io/metadata.name` label the API server sets), match only Pod CREATE, and use `sideEffects: None`,
 * `reinvocationPolicy: IfNeeded`, `matchPolicy: Equivalent`, a short `timeoutSeconds` and the given
 * `failurePolicy` (default Fail: docs/decisions/webhook-0002-failure-policy.md). The two namespace selectors are
 * disjoint, so a pod is sent to at most one entry.
 */
import type { AdmissionregistrationV1WebhookClientConfig, V1LabelSelector, V1MutatingWebhook, V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { INJECT_POD_KEY, INJECT_TRUE, INJECTION_ENABLED, INJECTION_NAMESPACE_LABEL, NAMESPACE_NAME_LABEL } from "../api/annotations.ts";
import { toCaBundle } from "./ca-bundle.ts";
import { PROTECTED_NAMESPACES } from "./decision.ts";
import { MUTATE_PODS_PATH } from "./paths.ts";

export const NAMESPACE_WEBHOOK_NAME = "namespaces.sidecar-injector.vigil.dev";
export const POD_WEBHOOK_NAME = "pods.sidecar-injector.vigil.dev";

export interface WebhookConfigurationOptions {
  name: string;
  /** Where the API server sends reviews: a URL (local runs) or the webhook Service. */
  target: { url: string } | { service: { name: string; namespace: string; port?: number } };
  /** PEM CA that signed the serving certificate (omit when cert-manager's CA injector fills it in). */
  caPem?: string;
  systemNamespace: string;
  failurePolicy?: "Fail" | "Ignore";
  timeoutSeconds?: number;
  labels?: Record<string, string>;
}

export function webhookConfiguration(opts: WebhookConfigurationOptions): V1MutatingWebhookConfiguration {
  const clientConfig: AdmissionregistrationV1WebhookClientConfig =
    "url" in opts.target
      ? { url: opts.target.url.replace(/\/$/, "") + MUTATE_PODS_PATH }
      : {
          service: { name: opts.target.service.name, namespace: opts.target.service.namespace, path: MUTATE_PODS_PATH, port: opts.target.service.port ?? 443 },
        };
  if (opts.caPem !== undefined) clientConfig.caBundle = toCaBundle(opts.caPem);
  const notProtected = { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: [...PROTECTED_NAMESPACES, opts.systemNamespace] };
  const entry = (name: string, namespaceSelector: V1LabelSelector, objectSelector: V1LabelSelector): V1MutatingWebhook => ({
    name,
    namespaceSelector,
    objectSelector,
    admissionReviewVersions: ["v1"],
    clientConfig,
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }],
    failurePolicy: opts.failurePolicy ?? "Fail",
    sideEffects: "None",
    timeoutSeconds: opts.timeoutSeconds ?? 5,
    reinvocationPolicy: "IfNeeded",
    matchPolicy: "Equivalent",
  });
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: opts.name, ...(opts.labels === undefined ? {} : { labels: opts.labels }) },
    webhooks: [
      entry(NAMESPACE_WEBHOOK_NAME, { matchExpressions: [{ key: INJECTION_NAMESPACE_LABEL, operator: "In", values: [INJECTION_ENABLED] }, notProtected] }, {}),
      entry(
        POD_WEBHOOK_NAME,
        { matchExpressions: [{ key: INJECTION_NAMESPACE_LABEL, operator: "NotIn", values: [INJECTION_ENABLED] }, notProtected] },
        { matchLabels: { [INJECT_POD_KEY]: INJECT_TRUE } },
      ),
    ],
  };
}
