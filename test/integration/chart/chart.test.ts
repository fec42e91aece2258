/**
 * The vigil Helm chart with the real helm and a real kube-apiserver: lint (also --strict); golden `helm template`
 * output for the default values and the main combinations; values.schema.json refusing unknown keys and wrong
 * types with helm's message; every object of every combination passing strict server-side validation; a real
 * `helm install` whose objects all exist afterwards, RBAC that grants the operator's ServiceAccount what it needs
 * and not more, `helm upgrade` keeping the generated key ring and Redis password, and `helm uninstall` keeping
 * the CRDs and the key ring.
 *
 * Golden files: test/golden/chart/<case>.yaml is `helm template vigil charts/vigil -n vigil-system -f
 * test/golden/chart/values/<case>.yaml`, with the data of the randomly generated Secrets masked (their shape is
 * asserted separately). Add a case by adding a values file. After changing the chart, regenerate and review:
 *
 *   REFRESH_GOLDEN=1 npx vitest run --project integration test/integration/chart
 *
 * cert-manager's CRDs are not installed in the test API server, so its Issuer and Certificate are only rendered
 * (the rest of that combination is still validated by the server).
 */
import { INJECT_POD_KEY, INJECT_TRUE } from "../../../operator/api/annotations.ts";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { parseInjectionConfig } from "../../../operator/webhook/config.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { chartDir, goldenDir, helm, helmOk, maskGeneratedSecrets, objectsOf, template, type K8sObject } from "./helm.ts";

const refresh = process.env.REFRESH_GOLDEN === "1";
const valuesDir = join(goldenDir, "values");
const cases = readdirSync(valuesDir)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();
const valuesOf = (name: string): string => join(valuesDir, `${name}.yaml`);

const RELEASE = "vigil";
const NS = "vigil-system";
const APPS = "chart-apps";
const SA = `system:serviceaccount:${NS}:vigil-operator`;
const CERT_MANAGER_KINDS = new Set(["Issuer", "Certificate"]);

const byKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!;
};
const decode = (b64: string): string => Buffer.from(b64, "base64").toString("utf8");

interface WebhookEntry {
  name: string;
  failurePolicy: string;
  timeoutSeconds: number;
  sideEffects: string;
  admissionReviewVersions: string[];
  matchPolicy: string;
  reinvocationPolicy: string;
  rules: { operations: string[]; resources: string[] }[];
  namespaceSelector: { matchExpressions: { key: string; operator: string; values?: string[] }[] };
  objectSelector?: { matchExpressions: { key: string; operator: string; values?: string[] }[] };
  clientConfig: { service: { name: string; namespace: string; path: string; port: number } };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

describe("the vigil chart", () => {
  let env: ClusterEnv;
  beforeAll(() => {
    env = clusterEnv();
  });

  it("passes helm lint, also with --strict", async () => {
    const lint = await helm(env, ["lint", chartDir]);
    expect(lint.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(lint.code).toBe(0);
    const strict = await helm(env, ["lint", "--strict", chartDir]);
    expect(strict.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(strict.code).toBe(0);
  });

  describe("helm template golden files", () => {
    it.each(cases)("renders %s exactly as its golden file (test/golden/chart/<case>.yaml)", async (name) => {
      const result = await template(env, valuesOf(name));
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const masked = maskGeneratedSecrets(result.stdout);
      const golden = join(goldenDir, `${name}.yaml`);
      if (refresh) writeFileSync(golden, masked);
      expect(masked).toBe(readFileSync(golden, "utf8"));
    });

    it("masks only the generated values: default output holds no other difference between two renders", async () => {
      const [a, b] = await Promise.all([template(env, valuesOf("default")), template(env, valuesOf("default"))]);
      expect(a.stdout).not.toBe(b.stdout);
      expect(maskGeneratedSecrets(a.stdout)).toBe(maskGeneratedSecrets(b.stdout));
    });
  });

  describe("rendered objects", () => {
    it("generate a 32-byte session key and a URL-safe Redis password, identical in every namespace's copy", async () => {
      const objects = objectsOf((await template(env, valuesOf("protected-namespaces"))).stdout);
      const keyRings = byKind(objects, "Secret").filter((s) => s.metadata.name === "vigil-session-keys");
      expect(keyRings.map((s) => s.metadata.namespace).sort()).toEqual(["payments", "shop", NS]);
      const [first] = keyRings;
      for (const ring of keyRings) expect(ring.data).toEqual(first!.data);
      expect(decode(first!.data!.primary!)).toBe("k1");
      expect(Buffer.from(decode(first!.data!.k1!), "base64")).toHaveLength(32);
      // Only the release namespace's key ring outlives the release (Redis may hold records sealed with it).
      for (const ring of keyRings) {
        expect(ring.metadata.annotations?.["helm.sh/resource-policy"]).toBe(ring.metadata.namespace === NS ? "keep" : undefined);
      }
      const passwords = byKind(objects, "Secret").filter((s) => s.metadata.name === "vigil-redis");
      expect(passwords.map((s) => s.metadata.namespace).sort()).toEqual(["payments", "shop", NS]);
      for (const p of passwords) expect(p.data).toEqual(passwords[0]!.data);
      const password = decode(passwords[0]!.data!.password!);
      expect(password).toMatch(/^[A-Za-z0-9]{40}$/);
      for (const p of passwords) expect(decode(p.data!.url!)).toBe(`redis://:${password}@vigil-redis.${NS}.svc:6379`);
    });

    it.each(cases)("render an injection config (%s) that the webhook's own parser accepts", async (name) => {
      const objects = objectsOf((await template(env, valuesOf(name))).stdout);
      const configMap = one(objects, "ConfigMap", "vigil-injection") as K8sObject & { data: { "injection.json": string } };
      const config = parseInjectionConfig(JSON.parse(configMap.data["injection.json"]));
      expect(config.systemNamespace).toBe(NS);
      expect(config.issuersConfigMap).toBe("vigil-issuers");
      expect(config.keyRingSecret).toBe("vigil-session-keys");
      // node, the V8 flags derived from the sidecar's memory limit (node-flags.test.ts), the program.
      expect(config.command[0]).toBe("node");
      expect(config.command.at(-1)).toBe("/app/dist/sidecar/main.js");
      for (const flag of config.command.slice(1, -1)) expect(flag).toMatch(/^--max-(semi|old)-space-size=[0-9]+$/);
    });

    it("give the operator least-privilege RBAC: nothing wildcard, Secrets and its webhook only by name", async () => {
      const objects = objectsOf((await template(env, valuesOf("default"))).stdout);
      const clusterRules = one(objects, "ClusterRole", "vigil-operator").rules as Rule[];
      const roleRules = one(objects, "Role").rules as Rule[];
      for (const rule of [...clusterRules, ...roleRules]) {
        expect(rule.verbs).not.toContain("*");
        expect(rule.resources).not.toContain("*");
        expect(rule.apiGroups).not.toContain("*");
      }
      expect(clusterRules.flatMap((r) => r.resources)).not.toContain("secrets");
      const deleting = clusterRules.filter((r) => r.verbs.includes("delete")).flatMap((r) => r.resources);
      expect(deleting).toEqual(["sessionterminations"]);
      const webhook = clusterRules.find((r) => r.resources.includes("mutatingwebhookconfigurations"));
      expect(webhook?.resourceNames).toEqual(["vigil-sidecar-injector"]);
      for (const rule of roleRules) {
        if (rule.verbs.includes("create")) expect(rule).toMatchObject({ verbs: ["create"] });
        else expect(rule.resourceNames).toHaveLength(1);
      }
      const withCertManager = objectsOf((await template(env, valuesOf("cert-manager"))).stdout);
      const cmRules = [...(one(withCertManager, "ClusterRole", "vigil-operator").rules as Rule[]), ...(one(withCertManager, "Role").rules as Rule[])];
      expect(cmRules.flatMap((r) => r.resources)).not.toContain("secrets");
      expect(cmRules.flatMap((r) => r.resources)).not.toContain("mutatingwebhookconfigurations");

      // The sessions API: create SessionTerminations; its own APIService by name (self-managed certificate only).
      const sessionsRules = one(objects, "ClusterRole", "vigil-sessions-api").rules as Rule[];
      expect(sessionsRules).toEqual([
        { apiGroups: ["vigil.dev"], resources: ["sessionterminations"], verbs: ["create"] },
        { apiGroups: ["apiregistration.k8s.io"], resources: ["apiservices"], resourceNames: ["v1alpha1.sessions.vigil.dev"], verbs: ["get", "patch"] },
      ]);
      expect(one(withCertManager, "ClusterRole", "vigil-sessions-api").rules).toEqual([sessionsRules[0]]);
    });

    it("register the sessions API with the aggregator, behind the webhook's Service, and give it to the built-in roles", async () => {
      const objects = objectsOf((await template(env, valuesOf("default"))).stdout);
      const apiService = one(objects, "APIService", "v1alpha1.sessions.vigil.dev") as K8sObject & { spec: Record<string, unknown> };
      expect(apiService.spec).toMatchObject({
        group: "sessions.vigil.dev",
        version: "v1alpha1",
        insecureSkipTLSVerify: false,
        service: { name: "vigil-webhook", namespace: NS, port: 8443 },
      });
      expect(apiService.spec["caBundle"]).toBeUndefined();
      const service = one(objects, "Service", "vigil-webhook") as K8sObject & { spec: { ports: { name: string; port: number; targetPort: string }[] } };
      expect(service.spec.ports).toContainEqual({ name: "sessions-api", port: 8443, targetPort: "sessions-api", protocol: "TCP" });
      const bindings = byKind(objects, "ClusterRoleBinding").map((b) => (b as K8sObject & { roleRef: { name: string } }).roleRef.name);
      expect(bindings).toContain("system:auth-delegator");
      const reader = one(objects, "RoleBinding", "vigil-sessions-api-auth-reader") as K8sObject & { roleRef: { kind: string; name: string } };
      expect(reader.metadata.namespace).toBe("kube-system");
      expect(reader.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" });
      const labels = (name: string): Record<string, string> => one(objects, "ClusterRole", name).metadata.labels ?? {};
      expect(labels("vigil-sessions-reader")).toMatchObject({
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
      });
      expect(labels("vigil-sessions-reader")["rbac.authorization.k8s.io/aggregate-to-view"]).toBeUndefined();
      expect(Object.keys(labels("vigil-sessions-terminator")).filter((k) => k.startsWith("rbac."))).toEqual(["rbac.authorization.k8s.io/aggregate-to-admin"]);

      const withCertManager = objectsOf((await template(env, valuesOf("cert-manager"))).stdout);
      expect(one(withCertManager, "APIService").metadata.annotations).toEqual({ "cert-manager.io/inject-ca-from": `${NS}/vigil-webhook-tls` });
      const disabled = objectsOf((await template(env, valuesOf("default"), ["--set", "sessionsApi.enabled=false"])).stdout);
      expect(byKind(disabled, "APIService")).toEqual([]);
      expect(disabled.filter((o) => o.metadata.name.includes("sessions"))).toEqual([]);
    });

    it("never let a webhook entry match a system namespace or the release namespace, whatever the selectors say", async () => {
      const result = await template(env, valuesOf("default"), [
        "--set-json",
        'webhook.namespaces.namespaceSelector={"matchLabels":{"team":"a"}}',
        "--set-json",
        "webhook.pods.namespaceSelector={}",
      ]);
      const entries = one(objectsOf(result.stdout), "MutatingWebhookConfiguration").webhooks as WebhookEntry[];
      expect(entries.map((e) => e.name)).toEqual(["namespaces.sidecar-injector.vigil.dev", "pods.sidecar-injector.vigil.dev"]);
      for (const entry of entries) {
        expect(entry.namespaceSelector.matchExpressions).toContainEqual({
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: ["kube-system", "kube-node-lease", "kube-public", NS],
        });
        expect(entry).toMatchObject({
          failurePolicy: "Fail",
          timeoutSeconds: 5,
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
          matchPolicy: "Equivalent",
          reinvocationPolicy: "IfNeeded",
          rules: [{ operations: ["CREATE"], resources: ["pods"] }],
          clientConfig: { service: { name: "vigil-webhook", namespace: NS, path: "/mutate-pods", port: 443 } },
        });
      }
      // The same label and value the webhook's decision honours (operator/api/annotations.ts).
      expect(entries[1]!.objectSelector?.matchExpressions).toEqual([{ key: INJECT_POD_KEY, operator: "In", values: [INJECT_TRUE] }]);
    });

    it("print next steps, and warnings for a fail-open webhook and allow-by-default sidecars", async () => {
      const safe = await helmOk(env, ["install", RELEASE, chartDir, "-n", NS, "--dry-run=client"]);
      expect(safe).toContain("kubectl label namespace <namespace> vigil.dev/injection=enabled");
      expect(safe).toContain("kind: AccessPolicy");
      expect(safe).toContain("kubectl create -n <namespace> -f -");
      expect(safe).toContain("kubectl get sessionterminations -n <namespace> -w");
      expect(safe).not.toContain("failurePolicy is Ignore");
      const unsafe = await helmOk(env, ["install", RELEASE, chartDir, "-n", NS, "--dry-run=client", "-f", valuesOf("unsafe")]);
      expect(unsafe).toContain("WARNING: webhook.failurePolicy is Ignore");
      expect(unsafe).toContain("WARNING: sidecar.defaultAction is Allow");
    });
  });

  describe("values.schema.json and value checks", () => {
    const refusal = async (...args: string[]): Promise<string> => {
      const result = await template(env, valuesOf("default"), args);
      expect(result.code).not.toBe(0);
      return result.stderr;
    };

    it("refuses an unknown key, naming it", async () => {
      expect(await refusal("--set", "operator.replica=3")).toContain("at '/operator': additional properties 'replica' not allowed");
      expect(await refusal("--set", "redis.sentinel.masterName=x")).toContain("at '/redis': additional properties 'sentinel' not allowed");
    });

    it("refuses a wrong type or an out-of-range value", async () => {
      expect(await refusal("--set", "operator.replicas=two")).toContain("at '/operator/replicas': got string, want integer");
      expect(await refusal("--set", "webhook.failurePolicy=Sometimes")).toContain("at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'");
      expect(await refusal("--set", "webhook.timeoutSeconds=60")).toContain("at '/webhook/timeoutSeconds'");
    });

    it("refuses private key material in an inline JWKS", async () => {
      const issuer = {
        issuer: "https://x.example",
        audiences: ["a"],
        algorithms: ["EdDSA"],
        jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "AA", d: "secret" }] },
      };
      expect(await refusal("--set-json", `sidecar.issuers=[${JSON.stringify(issuer)}]`)).toContain("additional properties 'd' not allowed");
    });

    it("refuses inconsistent values the schema cannot express, saying which", async () => {
      expect(await refusal("--set", "operator.leaderElection.renewDeadlineSeconds=20")).toContain(
        "operator.leaderElection.renewDeadlineSeconds must be less than leaseDurationSeconds",
      );
      expect(await refusal("--set", "redis.mode=external")).toContain(
        "set redis.external.url, redis.external.existingSecret or redis.external.sentinel.masterName",
      );
      expect(await refusal("--set", "injection.namespaces={kube-system}")).toContain('namespace "kube-system" is excluded from injection');
    });
  });

  describe("on the real API server", () => {
    const created: string[] = [];
    let installed = false;

    const ensureNs = async (name: string): Promise<void> => {
      const exists = await kubectl(env, ["get", "namespace", name]);
      if (exists.code === 0) return;
      await kubectlOk(env, ["create", "namespace", name]);
      created.push(name);
    };
    const secretData = async (namespace: string, name: string): Promise<Record<string, string>> =>
      (await kubectlJson<{ data: Record<string, string> }>(env, ["get", "secret", name], { namespace })).data;

    beforeAll(async () => {
      for (const ns of [NS, APPS, "shop", "payments"]) await ensureNs(ns);
    });

    afterAll(async () => {
      if (installed) await helm(env, ["uninstall", RELEASE, "-n", NS]);
      await kubectl(env, ["delete", "secret", "vigil-session-keys", "--ignore-not-found"], { namespace: NS });
      for (const ns of created.reverse()) await kubectl(env, ["delete", "namespace", ns, "--wait=false"]);
    });

    it.each(cases)("accepts every object of %s under strict server-side validation (dry run)", async (name) => {
      const objects = objectsOf((await template(env, valuesOf(name))).stdout).filter((o) => !CERT_MANAGER_KINDS.has(o.kind));
      const manifest = objects.map((o) => JSON.stringify(o)).join("\n---\n");
      const result = await kubectl(
        env,
        ["apply", "--server-side", "--dry-run=server", "--validate=strict", "--force-conflicts", "--field-manager=vigil-chart-test", "-f", "-"],
        { input: manifest },
      );
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split("\n")).toHaveLength(objects.length);
    });

    it("installs: the API server accepts every object, and helm prints the next steps", { timeout: 180_000 }, async () => {
      // --take-ownership: other test files may have applied crds/ with kubectl already.
      const out = await helmOk(
        env,
        [
          "install",
          RELEASE,
          chartDir,
          "-n",
          NS,
          "--create-namespace",
          "--take-ownership",
          "--timeout",
          "120s",
          "--set",
          `injection.namespaces={${APPS}}`,
          "--set",
          "networkPolicy.enabled=true",
          "--set",
          `networkPolicy.namespaces={${APPS}}`,
        ],
        180_000,
      );
      installed = true;
      expect(out).toContain("STATUS: deployed");
      expect(out).toContain("kubectl label namespace <namespace> vigil.dev/injection=enabled");

      const manifest = await helmOk(env, ["get", "manifest", RELEASE, "-n", NS]);
      const objects = objectsOf(manifest);
      expect(objects.length).toBeGreaterThanOrEqual(20);
      const listed = await kubectlOk(env, ["get", "-f", "-", "-o", "name"], { input: manifest });
      expect(listed.trim().split("\n")).toHaveLength(objects.length);
      const deployment = await kubectlJson<{ spec: { replicas: number } }>(env, ["get", "deployment", "vigil-operator"], { namespace: NS });
      expect(deployment.spec.replicas).toBe(2);
      await kubectlOk(env, ["get", "networkpolicy/vigil-sidecar-only", "secret/vigil-session-keys", "secret/vigil-redis", "configmap/vigil-issuers"], {
        namespace: APPS,
      });
    });

    it("binds the RBAC to the operator's ServiceAccount: what it needs is allowed, the rest is not", async () => {
      const can = async (args: string[], namespace?: string): Promise<boolean> => {
        const r = await kubectl(env, ["auth", "can-i", ...args, `--as=${SA}`], namespace === undefined ? {} : { namespace });
        return r.stdout.trim() === "yes";
      };
      expect(await can(["patch", "sessionterminations.vigil.dev", "--subresource=status"], "anywhere")).toBe(true);
      expect(await can(["delete", "sessionterminations.vigil.dev"], "anywhere")).toBe(true);
      expect(await can(["watch", "accesspolicies.vigil.dev"], "anywhere")).toBe(true);
      expect(await can(["list", "pods", "--all-namespaces"])).toBe(true);
      expect(await can(["create", "events.events.k8s.io"], "anywhere")).toBe(true);
      expect(await can(["patch", "mutatingwebhookconfigurations/vigil-sidecar-injector"])).toBe(true);
      expect(await can(["update", "leases/vigil-operator"], NS)).toBe(true);
      expect(await can(["create", "leases"], NS)).toBe(true);
      expect(await can(["update", "secrets/vigil-webhook-tls"], NS)).toBe(true);
      // The sessions API.
      expect(await can(["create", "sessionterminations.vigil.dev"], "anywhere")).toBe(true);
      expect(await can(["create", "subjectaccessreviews.authorization.k8s.io"])).toBe(true);
      expect(await can(["watch", "configmaps/extension-apiserver-authentication"], "kube-system")).toBe(true);
      expect(await can(["patch", "apiservices.apiregistration.k8s.io/v1alpha1.sessions.vigil.dev"])).toBe(true);

      expect(await can(["delete", "accesspolicies.vigil.dev"], "anywhere")).toBe(false);
      expect(await can(["create", "pods"], "anywhere")).toBe(false);
      expect(await can(["get", "secrets/vigil-redis"], NS)).toBe(false);
      expect(await can(["list", "secrets"], NS)).toBe(false);
      expect(await can(["get", "secrets/vigil-webhook-tls"], "anywhere")).toBe(false);
      expect(await can(["update", "leases/someone-else"], NS)).toBe(false);
      expect(await can(["patch", "mutatingwebhookconfigurations/other-webhook"])).toBe(false);
      expect(await can(["create", "mutatingwebhookconfigurations"])).toBe(false);
      expect(await can(["patch", "apiservices.apiregistration.k8s.io/v1.apps"])).toBe(false);
      expect(await can(["get", "configmaps/kube-proxy"], "kube-system")).toBe(false);
    });

    it("upgrades without changing the generated key ring and Redis password, keeping keys added for rotation", { timeout: 180_000 }, async () => {
      const keysBefore = await secretData(NS, "vigil-session-keys");
      const passwordBefore = await secretData(NS, "vigil-redis");
      expect(await secretData(APPS, "vigil-session-keys")).toEqual(keysBefore);

      await helmOk(env, ["upgrade", RELEASE, chartDir, "-n", NS, "--reuse-values", "--set", "operator.logLevel=debug", "--timeout", "120s"], 180_000);
      expect(await secretData(NS, "vigil-session-keys")).toEqual(keysBefore);
      expect(await secretData(NS, "vigil-redis")).toEqual(passwordBefore);
      expect(await secretData(APPS, "vigil-redis")).toEqual(passwordBefore);

      // Rotation by hand: add k2 and make it primary; the next upgrade keeps it and copies it to the apps namespace.
      const k2 = Buffer.from(Buffer.alloc(32, 7).toString("base64")).toString("base64");
      const patch = JSON.stringify({ data: { k2, primary: Buffer.from("k2").toString("base64") } });
      await kubectlOk(env, ["patch", "secret", "vigil-session-keys", "--type=merge", "-p", patch], { namespace: NS });
      await helmOk(env, ["upgrade", RELEASE, chartDir, "-n", NS, "--reuse-values", "--timeout", "120s"], 180_000);
      const rotated = { ...keysBefore, k2, primary: Buffer.from("k2").toString("base64") };
      expect(await secretData(NS, "vigil-session-keys")).toEqual(rotated);
      expect(await secretData(APPS, "vigil-session-keys")).toEqual(rotated);
    });

    it("uninstalls, keeping the CRDs (crds.keep) and the key ring, removing the rest", { timeout: 180_000 }, async () => {
      await helmOk(env, ["uninstall", RELEASE, "-n", NS, "--timeout", "120s"], 180_000);
      installed = false;
      await kubectlOk(env, ["get", "crd", "accesspolicies.vigil.dev", "sessionterminations.vigil.dev"]);
      await kubectlOk(env, ["get", "secret", "vigil-session-keys"], { namespace: NS });
      const gone = await kubectl(env, [
        "get",
        "clusterrole/vigil-operator",
        "mutatingwebhookconfiguration/vigil-sidecar-injector",
        "--ignore-not-found",
        "-o",
        "name",
      ]);
      expect(gone.stdout.trim()).toBe("");
      const copies = await kubectl(env, ["get", "secret", "vigil-session-keys", "--ignore-not-found", "-o", "name"], { namespace: APPS });
      expect(copies.stdout.trim()).toBe("");
    });
  });
});
