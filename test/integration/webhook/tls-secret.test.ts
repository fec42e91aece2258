import { X509Certificate } from "node:crypto";
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureWebhookTls, readWebhookTls, type WebhookTlsTarget } from "../../../operator/webhook/tls-secret.ts";
import { clusterEnv } from "../../cluster/env.ts";

const DAY = 86_400_000;
const target: WebhookTlsTarget = {
  namespace: "vigil-tls-test",
  secretName: "vigil-webhook-tls",
  service: "vigil-webhook",
  configurationName: "vigil-tls-test-injector",
};

describe("the webhook's shared TLS Secret (real API server)", () => {
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  const caBundle = async () =>
    Buffer.from(
      (await admission.readMutatingWebhookConfiguration({ name: target.configurationName })).webhooks?.[0]?.clientConfig.caBundle ?? "",
      "base64",
    ).toString();
  const secretVersion = async () => (await core.readNamespacedSecret({ name: target.secretName, namespace: target.namespace })).metadata?.resourceVersion;

  beforeAll(async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(clusterEnv().kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await core.createNamespace({ body: { metadata: { name: target.namespace } } });
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: target.configurationName },
        webhooks: [
          {
            name: "nothing.vigil.dev",
            clientConfig: { url: "https://127.0.0.1:1/mutate-pods" },
            rules: [{ apiGroups: ["example.invalid"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["nothings"] }],
            sideEffects: "None",
            admissionReviewVersions: ["v1"],
            failurePolicy: "Ignore",
          },
        ],
      },
    });
  });

  it("is created on first use, and the webhook configuration trusts the CA that signed the serving certificate", async () => {
    expect(await ensureWebhookTls(core, admission, target)).toEqual({ secret: "created", caBundleChanged: true });
    const tls = await readWebhookTls(core, target);
    expect(tls).toBeDefined();
    const leaf = new X509Certificate(tls!.cert);
    const ca = new X509Certificate(await caBundle());
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain("DNS:vigil-webhook.vigil-tls-test.svc");
  });

  it("writes nothing when everything is current", async () => {
    const before = await secretVersion();
    expect(await ensureWebhookTls(core, admission, target)).toEqual({ secret: "unchanged", caBundleChanged: false });
    expect(await secretVersion()).toBe(before);
  });

  it("renews the serving certificate before it expires, under the same CA", async () => {
    const before = (await readWebhookTls(core, target))!.cert;
    expect(await ensureWebhookTls(core, admission, target, new Date(Date.now() + 70 * DAY))).toEqual({ secret: "renewed-serving", caBundleChanged: false });
    expect((await readWebhookTls(core, target))!.cert).not.toBe(before);
  });

  it("renews the CA before it expires and trusts old and new CA while the new one rolls out", async () => {
    const oldCa = await caBundle();
    expect(await ensureWebhookTls(core, admission, target, new Date(Date.now() + 300 * DAY))).toEqual({ secret: "renewed-ca", caBundleChanged: true });
    const bundle = await caBundle();
    expect(bundle).toContain(oldCa.trim());
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const leaf = new X509Certificate((await readWebhookTls(core, target))!.cert);
    expect(leaf.checkIssued(new X509Certificate(bundle))).toBe(true); // the first certificate is the new CA
  });
});
