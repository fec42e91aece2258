/**
 * The injection webhook with the REAL API server and kube-controller-manager: our HTTPS server runs on
 * 127.0.0.1 with a certificate from certs.ts; the MutatingWebhookConfiguration built by webhook-configuration.ts
 * points at it (caBundle kept current by ensureCaBundle). Then:
 *   - a Deployment in an opted-in namespace → kube-controller-manager creates its Pod through the API server,
 *     which calls the webhook → the STORED pod is injected (golden file `test/golden/injection/cluster/`,
 *     regenerated with REFRESH_GOLDEN=1; generated names, uids and the random token-volume suffix are normalised);
 *   - a pod in a namespace that is not opted in is untouched (the webhook is not even called);
 *   - a pod that opts in by label from such a namespace is injected; by annotation only, it is not (selectors
 *     see labels only: docs/decisions/webhook-0003-pod-opt-in-selectors.md);
 *   - an opted-in pod with no known application port is refused with the reason;
 *   - with the webhook down, an opted-in pod is refused with a message naming the webhook and the failure, while
 *     pods in kube-system and in other namespaces are still created; bringing the webhook back restores injection.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { kubeConfig, quietLog, uniqueName } from "../operator/kube-support.ts";
import { loadInjectionConfig, type InjectionConfig } from "../../../operator/webhook/config.ts";
import { ensureCaBundle } from "../../../operator/webhook/ca-bundle.ts";
import { generateWebhookCerts } from "../../../operator/webhook/certs.ts";
import { namespaceLabelsFrom } from "../../../operator/webhook/namespaces.ts";
import { startWebhookServer, type WebhookServer } from "../../../operator/webhook/server.ts";
import { NAMESPACE_WEBHOOK_NAME, webhookConfiguration } from "../../../operator/webhook/webhook-configuration.ts";

const GOLDEN = join(import.meta.dirname, "../../golden/injection");
const CLUSTER_GOLDEN = join(GOLDEN, "cluster/deployment-pod.injected.yaml");
const refresh = process.env["REFRESH_GOLDEN"] === "1" || process.env["REFRESH_GOLDEN"] === "true";

const podManifest = (name: string, opts: { ports?: number[]; labels?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: opts.labels ?? {}, annotations: opts.annotations ?? {} },
  spec: { containers: [{ name: "app", image: "example/app:1", ports: (opts.ports ?? [8080]).map((containerPort) => ({ containerPort })) }] },
});

/** The stored pod with everything that differs between runs replaced by stable placeholders. */
function normalise(pod: V1Pod): unknown {
  const text = JSON.stringify(pod).replace(/kube-api-access-[a-z0-9]{5}/g, "kube-api-access-XXXXX");
  const p = JSON.parse(text) as V1Pod & { status?: unknown };
  const meta = p.metadata ?? {};
  const hash = meta.labels?.["pod-template-hash"] ?? "";
  for (const k of ["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields"] as const) Reflect.deleteProperty(meta, k);
  if (meta.labels !== undefined && hash !== "") meta.labels["pod-template-hash"] = "HASH";
  if (meta.generateName !== undefined) meta.generateName = meta.generateName.replace(hash, "HASH");
  for (const o of meta.ownerReferences ?? []) {
    o.uid = "UID";
    o.name = o.name.replace(hash, "HASH");
  }
  Reflect.deleteProperty(p, "status");
  return p;
}

describe("the injection webhook on a real API server", () => {
  let env: ClusterEnv;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let admission: AdmissionregistrationV1Api;
  let config: InjectionConfig;
  let tls: { key: string; cert: string };
  let server: WebhookServer | undefined;
  let port: number;
  const registry = new Registry();
  const webhookName = uniqueName("vigil-injection-test");
  const optedIn = uniqueName("wh-opted-in");
  const plain = uniqueName("wh-plain");

  const start = async (listenPort = 0): Promise<WebhookServer> =>
    startWebhookServer({ tls, host: "127.0.0.1", port: listenPort, config, namespaceLabels: namespaceLabelsFrom(core), registry, log: quietLog });

  const createPod = (namespace: string, pod: V1Pod): Promise<V1Pod> => core.createNamespacedPod({ namespace, body: pod });

  /** The API server's refusal message for a pod create, or "" when it was created. */
  const refusal = async (namespace: string, pod: V1Pod): Promise<string> => {
    try {
      await createPod(namespace, pod);
      return "";
    } catch (err) {
      const body = (err as { body?: unknown }).body;
      return typeof body === "string" ? ((JSON.parse(body) as { message?: string }).message ?? body) : String(err);
    }
  };

  const waitForServiceAccount = (namespace: string): Promise<unknown> =>
    vi.waitFor(() => core.readNamespacedServiceAccount({ namespace, name: "default" }), { timeout: 30_000, interval: 200 });

  beforeAll(async () => {
    env = clusterEnv();
    const kc = kubeConfig(env);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    admission = kc.makeApiClient(AdmissionregistrationV1Api);
    config = await loadInjectionConfig(join(GOLDEN, "_injection-config.yaml"));
    const certs = await generateWebhookCerts({ service: "vigil-webhook", namespace: config.systemNamespace });
    tls = { key: certs.serving.keyPem, cert: certs.serving.certPem };
    server = await start();
    port = server.port;

    await core.createNamespace({ body: { metadata: { name: optedIn, labels: { "vigil.dev/injection": "enabled" } } } });
    await core.createNamespace({ body: { metadata: { name: plain } } });
    // Registered without a caBundle first: ensureCaBundle must fill it in.
    await admission.createMutatingWebhookConfiguration({
      body: webhookConfiguration({ name: webhookName, target: { url: server.url }, systemNamespace: config.systemNamespace }),
    });
    const first = await ensureCaBundle(admission, webhookName, certs.ca.certPem);
    expect(first).toEqual({ found: true, changed: true });
    const before = await admission.readMutatingWebhookConfiguration({ name: webhookName });
    expect(await ensureCaBundle(admission, webhookName, certs.ca.certPem)).toEqual({ found: true, changed: false });
    const after = await admission.readMutatingWebhookConfiguration({ name: webhookName });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.webhooks?.map((w) => w.clientConfig.caBundle)).toEqual([
      Buffer.from(certs.ca.certPem).toString("base64"),
      Buffer.from(certs.ca.certPem).toString("base64"),
    ]);
    await Promise.all([waitForServiceAccount(optedIn), waitForServiceAccount(plain)]);
  });

  afterAll(async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: webhookName }).catch(() => undefined);
    await core.deleteNamespace({ name: optedIn }).catch(() => undefined);
    await core.deleteNamespace({ name: plain }).catch(() => undefined);
    await server?.close();
  });

  it("injects the pods kube-controller-manager creates for a Deployment in an opted-in namespace", async () => {
    await apps.createNamespacedDeployment({
      namespace: optedIn,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] }] } },
        },
      },
    });
    const pod = await vi.waitFor(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: optedIn, labelSelector: "app=web" });
        const first = pods.items[0];
        if (first === undefined) throw new Error("no pod yet");
        return first;
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBe("injected");
    const sidecar = pod.spec?.initContainers?.[0];
    expect(sidecar?.name).toBe("vigil-sidecar");
    expect(sidecar?.restartPolicy).toBe("Always");
    expect(sidecar?.env?.find((e) => e.name === "VIGIL_UPSTREAM_PORT")?.value).toBe("8080");
    // The owning Deployment, from the ReplicaSet kube-controller-manager named <deployment>-<pod-template-hash>.
    expect(sidecar?.env?.filter((e) => e.name.startsWith("VIGIL_WORKLOAD_")).map((e) => [e.name, e.value])).toEqual([
      ["VIGIL_WORKLOAD_KIND", "Deployment"],
      ["VIGIL_WORKLOAD_NAME", "web"],
    ]);

    const actual = normalise(pod);
    if (refresh || !existsSync(CLUSTER_GOLDEN)) {
      if (!refresh) throw new Error(`${CLUSTER_GOLDEN} is missing: run with REFRESH_GOLDEN=1 to create it`);
      mkdirSync(join(GOLDEN, "cluster"), { recursive: true });
      writeFileSync(
        CLUSTER_GOLDEN,
        "# GENERATED by REFRESH_GOLDEN=1 (test/integration/webhook/injection.test.ts): a Deployment's pod as stored by the API server.\n" +
          stringify(actual, { lineWidth: 0 }),
      );
    }
    expect(actual).toEqual(parse(readFileSync(CLUSTER_GOLDEN, "utf8")));
  });

  it("leaves a pod in a namespace that is not opted in untouched (the webhook is not called)", async () => {
    const pod = await createPod(plain, podManifest("bystander"));
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBeUndefined();
  });

  it("injects a pod that opts in with the label from a namespace that is not opted in", async () => {
    const pod = await createPod(plain, podManifest("lone", { labels: { "vigil.dev/inject": "true" } }));
    expect(pod.spec?.initContainers?.[0]?.name).toBe("vigil-sidecar");
    expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBe("injected");
  });

  it("does not see an opt-in by annotation alone in such a namespace (selectors match labels only)", async () => {
    const pod = await createPod(plain, podManifest("annotated", { annotations: { "vigil.dev/inject": "true" } }));
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBeUndefined();
  });

  it("records the skip on a pod that opts out in an opted-in namespace", async () => {
    const pod = await createPod(optedIn, podManifest("batch", { annotations: { "vigil.dev/inject": "false" } }));
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.metadata?.annotations?.["vigil.dev/injection-status"]).toBe("skipped: pod_opted_out");
  });

  it("refuses an opted-in pod whose application port is unknown, saying why", async () => {
    const message = await refusal(optedIn, podManifest("silent", { ports: [] }));
    expect(message).toContain(`admission webhook "${NAMESPACE_WEBHOOK_NAME}" denied the request`);
    expect(message).toContain("set the annotation vigil.dev/upstream-port or declare a containerPort");
  });

  it("counts every decision in the metrics", async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/vigil_webhook_injections_total\{result="injected",reason="namespace_enabled"\} [1-9]/);
    expect(text).toMatch(/vigil_webhook_injections_total\{result="injected",reason="pod_enabled"\} 1/);
    expect(text).toMatch(/vigil_webhook_injections_total\{result="skipped",reason="pod_opted_out"\} 1/);
    expect(text).toMatch(/vigil_webhook_injections_total\{result="refused",reason="no_upstream_port"\} 1/);
    expect(text).toMatch(/vigil_webhook_admission_duration_seconds_count\{result="injected"\} [1-9]/);
  });

  it("with the webhook down refuses opted-in pods with a clear message, while kube-system and other namespaces are unaffected; back up, injection resumes", async () => {
    await server?.close();
    server = undefined;

    const message = await refusal(optedIn, podManifest("while-down"));
    expect(message).toContain(`failed calling webhook "${NAMESPACE_WEBHOOK_NAME}"`);
    expect(message).toMatch(/connection refused/);

    const system = await createPod("kube-system", podManifest(uniqueName("system-while-down")));
    expect(system.spec?.initContainers).toBeUndefined();
    await core.deleteNamespacedPod({ namespace: "kube-system", name: system.metadata?.name ?? "" });
    expect((await createPod(plain, podManifest("plain-while-down"))).metadata?.name).toBe("plain-while-down");

    server = await start(port);
    const pod = await createPod(optedIn, podManifest("after-restore"));
    expect(pod.spec?.initContainers?.[0]?.name).toBe("vigil-sidecar");
  });
});
