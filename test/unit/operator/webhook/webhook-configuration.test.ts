import type { V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { caBundlePatch, toCaBundle } from "../../../../operator/webhook/ca-bundle.ts";
import { NAMESPACE_WEBHOOK_NAME, POD_WEBHOOK_NAME, webhookConfiguration } from "../../../../operator/webhook/webhook-configuration.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("webhookConfiguration", () => {
  const cfg = webhookConfiguration({
    name: "vigil",
    target: { service: { name: "vigil-webhook", namespace: "vigil-system" } },
    systemNamespace: "vigil-system",
    caPem: PEM,
  });
  const [byNamespace, byPod] = cfg.webhooks ?? [];

  it("has one entry for opted-in namespaces and one for pods opting in by label elsewhere", () => {
    expect(byNamespace?.name).toBe(NAMESPACE_WEBHOOK_NAME);
    expect(byNamespace?.namespaceSelector?.matchExpressions?.[0]).toEqual({ key: "vigil.dev/injection", operator: "In", values: ["enabled"] });
    expect(byNamespace?.objectSelector).toEqual({});
    expect(byPod?.name).toBe(POD_WEBHOOK_NAME);
    expect(byPod?.namespaceSelector?.matchExpressions?.[0]).toEqual({ key: "vigil.dev/injection", operator: "NotIn", values: ["enabled"] });
    expect(byPod?.objectSelector).toEqual({ matchLabels: { "vigil.dev/inject": "true" } });
  });

  it("excludes the system namespaces and Vigil's own from both", () => {
    for (const w of [byNamespace, byPod]) {
      expect(w?.namespaceSelector?.matchExpressions?.[1]).toEqual({
        key: "kubernetes.io/metadata.name",
        operator: "NotIn",
        values: ["kube-system", "kube-node-lease", "kube-public", "vigil-system"],
      });
    }
  });

  it("matches only Pod CREATE, fails closed by default, with a short timeout and no side effects", () => {
    for (const w of [byNamespace, byPod]) {
      expect(w).toMatchObject({
        rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
        failurePolicy: "Fail",
        sideEffects: "None",
        timeoutSeconds: 5,
        reinvocationPolicy: "IfNeeded",
        matchPolicy: "Equivalent",
        admissionReviewVersions: ["v1"],
        clientConfig: { service: { name: "vigil-webhook", namespace: "vigil-system", path: "/mutate-pods", port: 443 }, caBundle: toCaBundle(PEM) },
      });
    }
  });

  it("can point at a URL (local runs) and take the failure policy from the chart", () => {
    const local = webhookConfiguration({ name: "vigil", target: { url: "https://127.0.0.1:9443/" }, systemNamespace: "vigil", failurePolicy: "Ignore" });
    expect(local.webhooks?.[0]?.clientConfig).toEqual({ url: "https://127.0.0.1:9443/mutate-pods" });
    expect(local.webhooks?.[0]?.failurePolicy).toBe("Ignore");
  });
});

describe("caBundlePatch", () => {
  const config = (bundles: (string | undefined)[]): V1MutatingWebhookConfiguration => ({
    metadata: { name: "vigil" },
    webhooks: bundles.map((caBundle, i) => ({
      name: `w${i}.vigil.dev`,
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      clientConfig: caBundle === undefined ? {} : { caBundle },
    })),
  });

  it("is undefined when every webhook already has the bundle (no write)", () => {
    expect(caBundlePatch(config([toCaBundle(PEM), toCaBundle(PEM)]), PEM)).toBeUndefined();
  });

  it("sets the bundle only on the webhooks that differ, guarded by a test of each webhook's name", () => {
    expect(caBundlePatch(config([toCaBundle(PEM), undefined, "b2xk"]), PEM)).toEqual([
      { op: "test", path: "/webhooks/1/name", value: "w1.vigil.dev" },
      { op: "add", path: "/webhooks/1/clientConfig/caBundle", value: toCaBundle(PEM) },
      { op: "test", path: "/webhooks/2/name", value: "w2.vigil.dev" },
      { op: "add", path: "/webhooks/2/clientConfig/caBundle", value: toCaBundle(PEM) },
    ]);
  });
});
