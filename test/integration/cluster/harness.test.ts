import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { auditedCalls } from "../../cluster/audit.ts";
import { serviceAccountKubeconfig } from "../../cluster/service-account.ts";

const run = promisify(execFile);
const ns = "harness-test";

describe("the test control plane", () => {
  let env: ClusterEnv;
  let kc: KubeConfig;

  beforeAll(async () => {
    env = clusterEnv();
    kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });

  it("is a real kube-apiserver that kubectl talks to", async () => {
    const { stdout } = await run(env.kubectl, ["version", "-o", "json"], { env: { ...process.env, KUBECONFIG: env.kubeconfig } });
    const version = JSON.parse(stdout) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.36\./);
  });

  it("runs kube-controller-manager: a Deployment gets a ReplicaSet and Pods", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const labels = { app: "web" };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "example.invalid/app:1" }] } },
        },
      },
    });
    await expect.poll(async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: "app=web" })).items.length, { timeout: 30_000 }).toBe(2);
  });

  it("enforces RBAC for a ServiceAccount kubeconfig minted through TokenRequest", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "reader" } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: "read-configmaps" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-configmaps" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns }],
      },
    });
    const saConfig = await serviceAccountKubeconfig(env, ns, "reader");
    const kubectl = (...args: string[]) =>
      run(env.kubectl, args, { env: { ...process.env, KUBECONFIG: saConfig } }).then(
        (r) => ({ ok: true, out: r.stdout }),
        (e: unknown) => ({ ok: false, out: (e as { stderr: string }).stderr }),
      );

    expect((await kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")).out).toBe(`system:serviceaccount:${ns}:reader`);
    expect((await kubectl("get", "configmaps", "-n", ns)).ok).toBe(true);
    const denied = await kubectl("get", "secrets", "-n", ns);
    expect(denied.ok).toBe(false);
    expect(denied.out).toContain(`cannot list resource "secrets"`);

    // …and the audit log records what the account did, allowed or not.
    await expect
      .poll(async () => (await auditedCalls(env, `system:serviceaccount:${ns}:reader`)).map((c) => `${c.verb} ${c.resource} ${c.code}`), { timeout: 10_000 })
      .toEqual(expect.arrayContaining(["list configmaps 200", "list secrets 403"]));
  });

  it("gives each run its own Redis on loopback", async () => {
    expect(env.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const redis = new Redis(env.redisUrl);
    try {
      expect(await redis.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
      expect(await redis.config("GET", "save")).toEqual(["save", ""]);
    } finally {
      redis.disconnect();
    }
  });
});
